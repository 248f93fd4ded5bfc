"""Files and knowledge in the browser (the rag function's API): upload with progress and the
processing status, collections, attaching to a message, sources under the answer, and file
names that are markup."""

from __future__ import annotations

from playwright.sync_api import FilePayload, Page, expect

from tests.support.web import WebStack, last_answer, send, sign_in, wait_until_answered

HOSTILE_NAME = """<img src=x onerror="window.__xss='file'">notes.txt"""
NOTES = b"Stratus keeps its stop flags in DynamoDB.\n\nThe moon orbits the earth every month.\n"

# Records that an upload showed its progress bar (it may be on screen only briefly).
WATCH_PROGRESS = """
() => {
  window.__progressSeen = false;
  new MutationObserver(() => {
    if (document.querySelector('progress')) window.__progressSeen = true;
  }).observe(document.body, {subtree: true, childList: true});
}
"""


def upload(page: Page, name: str, content: bytes) -> None:
    payload: FilePayload = {"name": name, "mimeType": "text/plain", "buffer": content}
    page.locator("input[type=file]").set_input_files(files=[payload])


def test_upload_shows_progress_and_status_and_collections_take_files(
    page: Page, web_stack: WebStack
):
    sign_in(page, web_stack, web_stack.user())
    page.get_by_role("link", name="Files and knowledge").click()
    page.evaluate(WATCH_PROGRESS)
    upload(page, "notes.txt", NOTES * 2000)
    uploads = page.locator(".uploads")
    expect(uploads.get_by_text("Ready")).to_be_visible(timeout=30_000)
    assert page.evaluate("window.__progressSeen")
    files = page.get_by_role("heading", name="Your files").locator("..")
    expect(files.get_by_text("notes.txt")).to_be_visible()

    page.get_by_label("Collection name").fill("Handbook")
    page.get_by_role("button", name="Create collection").click()
    collection = page.get_by_role("listitem", name="Collection Handbook")
    expect(collection.get_by_text("No files yet.")).to_be_visible()
    collection.get_by_label("File to add to Handbook").select_option(label="notes.txt")
    collection.get_by_role("button", name="Add").click()
    expect(collection.get_by_text("notes.txt")).to_be_visible()
    collection.get_by_role("button", name="Remove notes.txt from Handbook").click()
    expect(collection.get_by_text("No files yet.")).to_be_visible()
    # Taken out of the collection, not deleted.
    expect(files.get_by_text("notes.txt")).to_be_visible()


def test_a_file_name_that_is_markup_never_runs(page: Page, web_stack: WebStack):
    sign_in(page, web_stack, web_stack.user())
    page.get_by_role("link", name="Files and knowledge").click()
    upload(page, HOSTILE_NAME, NOTES)
    expect(page.locator(".uploads").get_by_text("Ready")).to_be_visible(timeout=30_000)
    files = page.get_by_role("heading", name="Your files").locator("..")
    expect(files.get_by_text(HOSTILE_NAME)).to_be_visible()
    page.get_by_label("Collection name").fill("Hostile")
    page.get_by_role("button", name="Create collection").click()
    collection = page.get_by_role("listitem", name="Collection Hostile")
    collection.get_by_label("File to add to Hostile").select_option(label=HOSTILE_NAME)
    collection.get_by_role("button", name="Add").click()
    expect(collection.get_by_text(HOSTILE_NAME)).to_be_visible()
    page.get_by_role("link", name="New chat").click()
    page.get_by_role("button", name="Attach files or a collection").click()
    expect(page.get_by_label(f"File: {HOSTILE_NAME}")).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[onerror]").count() == 0


def test_ask_about_an_attached_file_and_the_answer_shows_its_source(
    page: Page, web_stack: WebStack
):
    sign_in(page, web_stack, web_stack.user())
    page.get_by_role("link", name="Files and knowledge").click()
    upload(page, "facts.txt", NOTES)
    expect(page.locator(".uploads").get_by_text("Ready")).to_be_visible(timeout=30_000)
    page.get_by_role("link", name="New chat").click()
    page.get_by_role("button", name="Attach files or a collection").click()
    page.get_by_label("File: facts.txt").check()
    expect(page.get_by_role("list", name="Attached")).to_contain_text("facts.txt")
    send(page, "where are the stop flags kept?")
    wait_until_answered(page)
    expect(last_answer(page).get_by_label("Sources")).to_contain_text("facts.txt")
    page.reload()
    expect(last_answer(page).get_by_label("Sources")).to_contain_text("facts.txt")
