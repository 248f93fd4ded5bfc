"""Files and knowledge in the browser (the rag function's API): upload with progress and the
processing status, collections, attaching to a chat (it stays attached), sources under the
answer and citations that open to their passage, and file names that are markup.
``STRATUS_UPDATE_SCREENSHOT=1`` refreshes the README's picture of a citation."""

from __future__ import annotations

import os
import shutil
from typing import Any

from playwright.sync_api import FilePayload, Page, expect

from tests.support.web import (
    REPO,
    WebStack,
    artifact_dir,
    last_answer,
    send,
    sign_in,
    wait_until_answered,
)

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
    # Attached to the chat, cited under an answer and opened to its passage: text everywhere.
    page.get_by_label(f"File: {HOSTILE_NAME}").check()
    send(page, "where are the stop flags kept?")
    wait_until_answered(page)
    expect(page.get_by_role("list", name="Attached to this chat")).to_contain_text(HOSTILE_NAME)
    last_answer(page).get_by_role("button", name="Source 1").click()
    expect(
        last_answer(page).get_by_role("region", name=f"Source 1: {HOSTILE_NAME}")
    ).to_be_visible()
    page.reload()
    last_answer(page).get_by_role("button", name="Source 1").click()
    expect(
        last_answer(page).get_by_role("region", name=f"Source 1: {HOSTILE_NAME}")
    ).to_be_visible()
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


STOP_FLAGS = "Stratus keeps its stop flags in DynamoDB."
MOON = "The moon orbits the earth every month."


def test_a_citation_opens_to_its_passage_also_after_a_reload(page: Page, web_stack: WebStack):
    user = web_stack.user("Ada")
    web_stack.upload(user, "facts.txt", NOTES)
    sign_in(page, web_stack, user)
    page.get_by_role("button", name="Attach files or a collection").click()
    page.get_by_label("File: facts.txt").check()
    page.get_by_role("button", name="Attach files or a collection").click()
    send(page, "Where are the stop flags kept?")
    wait_until_answered(page)
    answer = last_answer(page)
    # The emulator answers like a model: the source's sentence with its marker.
    expect(answer.locator(".markdown")).to_have_text(f"{STOP_FLAGS} [1]")
    for attempt in ("streamed", "reloaded"):
        marker = answer.locator(".markdown").get_by_role("button", name="Source 1")
        marker.click()
        passage = answer.get_by_role("region", name="Source 1: facts.txt")
        expect(passage).to_be_visible()
        # The passage used: the chunk's text, its file and its place in the file.
        expect(passage).to_contain_text(STOP_FLAGS)
        expect(passage).to_contain_text(MOON)
        expect(passage).to_contain_text("passage 1")
        expect(
            answer.get_by_label("Sources").get_by_role("button", name="1 facts.txt")
        ).to_have_attribute("aria-expanded", "true")
        if attempt == "streamed":
            path = artifact_dir("screenshot") / "citation.png"
            page.screenshot(path=str(path))
            if os.environ.get("STRATUS_UPDATE_SCREENSHOT") == "1":
                shutil.copyfile(path, REPO / "web" / "screenshot-citation.png")
            page.reload()
            answer = last_answer(page)
            expect(passage).to_have_count(0)


def test_a_follow_up_question_without_re_attaching_is_still_grounded(
    page: Page, open_context: Any, web_stack: WebStack
):
    user = web_stack.user()
    web_stack.upload(user, "facts.txt", NOTES)
    sign_in(page, web_stack, user)
    page.get_by_role("button", name="Attach files or a collection").click()
    page.get_by_label("File: facts.txt").check()
    send(page, "Where are the stop flags kept?")
    wait_until_answered(page)
    attached = page.get_by_role("list", name="Attached to this chat")
    # Still attached after the message, and the next question is grounded without asking again.
    expect(attached).to_contain_text("facts.txt")
    send(page, "How often does the moon orbit the earth?")
    wait_until_answered(page)
    expect(last_answer(page).locator(".markdown")).to_have_text(f"{MOON} [1]")
    expect(last_answer(page).get_by_label("Sources")).to_contain_text("facts.txt")
    # Kept with the chat on the server: after a reload, and on another device.
    page.reload()
    expect(attached).to_contain_text("facts.txt")
    other: Page = open_context()
    sign_in(other, web_stack, user)
    other.get_by_role("navigation", name="Chats").get_by_role("link").first.click()
    expect(other.get_by_role("list", name="Attached to this chat")).to_contain_text("facts.txt")
    send(other, "Are the stop flags kept in DynamoDB?")
    wait_until_answered(other)
    expect(last_answer(other).locator(".markdown")).to_have_text(f"{STOP_FLAGS} [1]")
    # Removed, it stays removed: the next question is not grounded.
    other.get_by_role("button", name="Detach facts.txt").click()
    expect(other.get_by_role("list", name="Attached to this chat")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("list", name="Attached to this chat")).to_have_count(0)
    send(page, "where are the stop flags kept now")
    wait_until_answered(page)
    expect(last_answer(page).locator(".markdown")).to_have_text(
        "You said: where are the stop flags kept now"
    )
