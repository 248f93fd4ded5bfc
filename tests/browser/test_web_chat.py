"""The chat page in a real browser: the first account of a fresh instance, a first chat
streaming in, stop, regenerate, edited questions as branches and edited answers, reload, the
chat list and its search, shortcuts, Markdown, and errors in plain words."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from local.emulator import expected_reply
from tests.support.auth import apply_env
from tests.support.web import (
    CHAT_MODEL,
    WebStack,
    answers,
    composer,
    last_answer,
    send,
    sign_in,
    unique_email,
    wait_until_answered,
)

# Records the answer's text each time the DOM changes, from the page itself.
WATCH_ANSWER = """
() => {
  window.__seen = [];
  new MutationObserver(() => {
    const answer = [...document.querySelectorAll('article.msg.assistant .markdown')].pop();
    if (answer) window.__seen.push(answer.textContent);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def reply(text: str) -> str:
    return "".join(expected_reply([{"role": "user", "content": text}]))


def sign_up_in_the_page(page: Page, base_url: str, name: str) -> str:
    """The first account of a fresh instance: the page opens on its sign-up, not on sign-in."""
    email = unique_email("web")
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name="Create the administrator account")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long enough password 1")
    page.get_by_role("button", name="Sign up").click()
    return email


def first_chat_streams(page: Page, stack: WebStack) -> None:
    stack.emulator.set_faults(token_delay=0.05)
    sign_up_in_the_page(page, stack.base_url, "Ada")
    expect(page.get_by_label("Model")).to_have_value(CHAT_MODEL)
    page.evaluate(WATCH_ANSWER)
    text = "tell me about the clouds over the sea today"
    send(page, text)
    expected = reply(text)
    expect(last_answer(page).locator(".markdown")).to_have_text(expected)
    wait_until_answered(page)
    seen = [s.strip() for s in page.evaluate("window.__seen") if s.strip()]
    partial = sorted({s for s in seen if s != expected and expected.startswith(s)}, key=len)
    # Word by word: many partial answers were on screen before the whole one.
    assert len(partial) >= 5, seen
    assert page.get_by_role("navigation", name="Chats").get_by_role("link").first.inner_text()
    expect(page.locator(".msg.user .bubble")).to_have_text(text)


@pytest.mark.parametrize("web_stack", ["in-process", "lambda-mode"], indirect=True)
def test_sign_up_then_a_first_chat_streams_in(page: Page, web_stack: WebStack):
    first_chat_streams(page, web_stack)
    # The first account is the administrator: the Users page is there.
    expect(page.get_by_role("link", name="Users")).to_be_visible()


def test_stop_keeps_the_partial_answer_and_a_reload_shows_it_stopped(
    page: Page, web_stack: WebStack
):
    sign_in(page, web_stack, web_stack.user())
    web_stack.emulator.set_faults(token_delay=0.1)
    text = " ".join(f"word{i}" for i in range(60))
    send(page, text)
    answer = last_answer(page).locator(".markdown")
    expect(answer).to_contain_text("word3")
    page.get_by_role("button", name="Stop generating").click()
    expect(last_answer(page).get_by_text("Stopped", exact=True)).to_be_visible()
    wait_until_answered(page)
    partial = answer.inner_text()
    full = reply(text)
    assert full.startswith(partial.strip())
    assert len(partial) < len(full)
    page.reload()
    expect(last_answer(page).get_by_text("Stopped", exact=True)).to_be_visible()
    expect(last_answer(page).locator(".markdown")).to_have_text(partial)


def test_regenerate_makes_a_branch_and_both_answers_stay_reachable(page: Page, web_stack: WebStack):
    sign_in(page, web_stack, web_stack.user())
    send(page, "first question")
    wait_until_answered(page)
    page.get_by_role("button", name="Regenerate answer").click()
    wait_until_answered(page)
    versions = page.get_by_role("group", name="answer versions")
    expect(versions).to_contain_text("2/2")
    versions.get_by_role("button", name="Previous answer version").click()
    expect(versions).to_contain_text("1/2")
    send(page, "second question")
    wait_until_answered(page)
    expect(answers(page)).to_have_count(2)
    # The reload shows the newest branch, with every version still there.
    page.reload()
    expect(answers(page)).to_have_count(2)
    first_versions = page.get_by_role("group", name="answer versions")
    expect(first_versions).to_contain_text("1/2")
    expect(page.locator(".msg.user .bubble")).to_have_text(["first question", "second question"])


def test_the_chat_list_is_newest_first_and_chats_are_renamed_and_deleted(
    page: Page, web_stack: WebStack
):
    sign_in(page, web_stack, web_stack.user())
    for text in ("the older chat", "the newer chat"):
        page.get_by_role("link", name="New chat").click()
        send(page, text)
        wait_until_answered(page)
    chats = page.get_by_role("navigation", name="Chats").get_by_role("listitem")
    titles = page.get_by_role("navigation", name="Chats").get_by_role("link")
    expect(titles).to_have_text(["the newer chat", "the older chat"])
    page.get_by_role("button", name="Rename “the older chat”").click()
    title = page.get_by_role("textbox", name="New title for “the older chat”")
    title.fill("Renamed chat")
    title.press("Enter")
    expect(chats.first.get_by_role("link")).to_have_text("the newer chat")
    expect(page.get_by_role("link", name="Renamed chat")).to_be_visible()
    page.get_by_role("button", name="Delete “the newer chat”").click()
    page.get_by_role("group", name="Delete “the newer chat”?").get_by_role(
        "button", name="Delete"
    ).click()
    expect(chats).to_have_count(1)
    page.reload()
    expect(page.get_by_role("navigation", name="Chats").get_by_role("link")).to_have_text(
        ["Renamed chat"]
    )


def test_enter_sends_and_shift_enter_makes_a_new_line(page: Page, web_stack: WebStack):
    sign_in(page, web_stack, web_stack.user())
    box = composer(page)
    box.click()
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two")
    expect(box).to_have_value("line one\nline two")
    page.keyboard.press("Enter")
    expect(page.locator(".msg.user .bubble")).to_have_text("line one\nline two")
    expect(box).to_have_value("")
    wait_until_answered(page)


def test_the_rate_limit_message_says_how_long_to_wait(page: Page, web_stack: WebStack):
    apply_env({"STRATUS_RATE_LIMIT_RPM": "1"})
    sign_in(page, web_stack, web_stack.user())
    send(page, "one message")
    wait_until_answered(page)
    send(page, "one too many")
    alert = page.get_by_role("alert").filter(has_text="message limit")
    expect(alert).to_contain_text("You have reached your message limit. Try again in")
    assert " second" in alert.inner_text()
    # Nothing was saved; the question is back in the composer to send later.
    expect(composer(page)).to_have_value("one too many")
    expect(answers(page)).to_have_count(1)


def test_the_model_host_down_message_appears(page: Page, web_stack: WebStack):
    sign_in(page, web_stack, web_stack.user())
    web_stack.emulator.set_faults(fail_status=503)
    send(page, "is anyone there")
    expect(page.locator(".banner[role=alert]")).to_contain_text(
        "The model host is down or not answering"
    )
    expect(last_answer(page)).to_contain_text("No answer:")


def test_an_error_mid_stream_keeps_the_partial_text_and_shows_the_error_under_it(
    page: Page, web_stack: WebStack
):
    sign_in(page, web_stack, web_stack.user())
    web_stack.emulator.set_faults(error_after=3)
    send(page, "alpha beta gamma delta epsilon")
    answer = last_answer(page)
    expect(answer.locator(".status.error")).to_contain_text("The answer was cut off by an error")
    expect(answer.locator(".markdown")).to_have_text("You said: alpha")
    page.reload()
    expect(last_answer(page).locator(".markdown")).to_have_text("You said: alpha")
    expect(last_answer(page).locator(".status.error")).to_be_visible()


def test_an_expired_session_goes_back_to_sign_in(page: Page, web_stack: WebStack):
    user = web_stack.user()
    sign_in(page, web_stack, user)
    # The page's first loads (models, chats) must be done: one still in flight when the session
    # is revoked would get the 401 first and sign out before the message is sent.
    page.wait_for_load_state("networkidle")
    admin = web_stack.admin()
    revoked = web_stack.http.post(f"/api/v1/users/{user.id}/sessions/revoke", headers=admin.headers)
    assert revoked.status_code == 200
    send(page, "hello again")
    expect(page.get_by_role("status")).to_contain_text("Your session has expired")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # And the token is gone: a reload stays signed out.
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    tokens = "[sessionStorage.getItem('stratus.token'), localStorage.getItem('stratus.token')]"
    assert page.evaluate(tokens) == [None, None]


def test_editing_a_question_makes_a_branch_and_the_switcher_moves_between_them(
    page: Page, web_stack: WebStack
):
    sign_in(page, web_stack, web_stack.user())
    send(page, "first question")
    wait_until_answered(page)
    send(page, "second question")
    wait_until_answered(page)
    questions = page.locator(".msg.user")

    def edit(number: int, text: str) -> None:
        questions.nth(number).get_by_role("button", name="Edit message").click()
        box = page.get_by_role("textbox", name="Edit your message")
        box.fill(text)
        page.get_by_role("button", name="Send", exact=True).click()
        wait_until_answered(page)

    # A later question, edited: a second version under the same answer, answered anew.
    edit(1, "second, edited")
    expect(page.locator(".msg.user .bubble")).to_have_text(["first question", "second, edited"])
    expect(last_answer(page).locator(".markdown")).to_have_text(reply("second, edited"))
    versions = questions.nth(1).get_by_role("group", name="question versions")
    expect(versions).to_contain_text("2/2")
    versions.get_by_role("button", name="Previous question version").click()
    expect(versions).to_contain_text("1/2")
    expect(page.locator(".msg.user .bubble")).to_have_text(["first question", "second question"])
    expect(last_answer(page).locator(".markdown")).to_have_text(reply("second question"))
    # The first question, edited: a new branch from the top, the old one still reachable.
    edit(0, "first, edited")
    expect(page.locator(".msg.user .bubble")).to_have_text(["first, edited"])
    first_versions = questions.first.get_by_role("group", name="question versions")
    expect(first_versions).to_contain_text("2/2")
    first_versions.get_by_role("button", name="Previous question version").click()
    # Back on the old branch, at its newest end.
    expect(page.locator(".msg.user .bubble")).to_have_text(["first question", "second, edited"])
    # Kept by the server: after a reload the newest branch shows, with both versions.
    page.reload()
    expect(page.locator(".msg.user .bubble")).to_have_text(["first, edited"])
    expect(questions.first.get_by_role("group", name="question versions")).to_contain_text("2/2")


def test_an_answer_is_edited_in_place_and_stays_edited(page: Page, web_stack: WebStack):
    sign_in(page, web_stack, web_stack.user())
    send(page, "what is two and two")
    wait_until_answered(page)
    page.get_by_role("button", name="Edit answer").click()
    box = page.get_by_role("textbox", name="Edit the answer")
    expect(box).to_have_value(reply("what is two and two"))
    box.fill("It is **four**.")
    page.get_by_role("button", name="Save").click()
    markdown = last_answer(page).locator(".markdown")
    expect(markdown).to_have_text("It is four.")
    expect(markdown.locator("strong")).to_have_text("four")
    page.reload()
    expect(last_answer(page).locator(".markdown strong")).to_have_text("four")
    # An edit is not a branch.
    expect(page.get_by_role("group", name="answer versions")).to_have_count(0)


def test_shortcuts_for_a_new_chat_and_stop_and_the_chat_search(page: Page, web_stack: WebStack):
    sign_in(page, web_stack, web_stack.user())
    for text in ("about herons", "about the moon"):
        page.get_by_role("link", name="New chat").click()
        send(page, text)
        wait_until_answered(page)
    # Ctrl+Shift+O: a new chat, ready to type in.
    page.keyboard.press("Control+Shift+O")
    expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()
    expect(composer(page)).to_be_focused()
    # Esc stops the answer being written.
    web_stack.emulator.set_faults(token_delay=0.1)
    send(page, " ".join(f"word{i}" for i in range(60)))
    expect(last_answer(page).locator(".markdown")).to_contain_text("word2")
    page.keyboard.press("Escape")
    expect(last_answer(page).get_by_text("Stopped", exact=True)).to_be_visible()
    wait_until_answered(page)
    # The sidebar's search narrows the list by title.
    titles = page.get_by_role("navigation", name="Chats").get_by_role("link")
    expect(titles).to_have_count(3)
    search = page.get_by_role("searchbox", name="Search chats")
    search.fill("HERONS")
    expect(titles).to_have_text(["about herons"])
    search.fill("nothing like this")
    expect(titles).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="No chat title matches")).to_be_visible()
    search.fill("")
    expect(titles).to_have_count(3)


def test_the_daily_token_budget_message_says_when_to_come_back(page: Page, web_stack: WebStack):
    apply_env({"STRATUS_DAILY_TOKEN_BUDGET": "3"})
    sign_in(page, web_stack, web_stack.user())
    send(page, "use up the budget please")
    wait_until_answered(page)
    send(page, "and one more")
    alert = page.get_by_role("alert").filter(has_text="token budget")
    # A 429 whose Retry-After is hours away says so in hours, not in thousands of seconds.
    expect(alert).to_contain_text("You have used today's token budget. Try again in")
    assert " hour" in alert.inner_text()
    expect(composer(page)).to_have_value("and one more")


def test_markdown_has_highlighted_code_with_a_copy_button_tables_and_inline_code(
    open_context: Any, web_stack: WebStack
):
    page: Page = open_context(permissions=["clipboard-read", "clipboard-write"])
    sign_in(page, web_stack, web_stack.user())
    send(
        page,
        "echo: Call `sorted()` on it:\n\n"
        "```python\ndef top(values):\n    return sorted(values)[:3]\n```\n\n"
        "| name | size |\n|---|---|\n| a.txt | 3 |\n| b.txt | 5 |\n",
    )
    wait_until_answered(page)
    markdown = last_answer(page).locator(".markdown")
    expect(markdown.locator(":not(pre) > code")).to_have_text("sorted()")
    code = markdown.locator("pre code.language-python")
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    expect(markdown.locator("pre")).to_have_attribute("data-lang", "python")
    markdown.get_by_role("button", name="Copy python code").click()
    expect(markdown.get_by_role("button", name="Copy python code")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == (
        "def top(values):\n    return sorted(values)[:3]"
    )
    table = markdown.locator(".table-wrap > table")
    expect(table.get_by_role("columnheader")).to_have_text(["name", "size"])
    expect(table.get_by_role("cell")).to_have_text(["a.txt", "3", "b.txt", "5"])


@pytest.mark.parametrize("web_stack", ["host-starting"], indirect=True)
def test_starting_the_model_host_is_shown_with_the_seconds_waited(page: Page, web_stack: WebStack):
    """The real hold: the page signed in (its model list taught the catalog the host's models),
    then the host fell asleep; the message wakes it, 3.5 s of boot."""
    sign_in(page, web_stack, web_stack.user())
    # The model list has arrived (the composer waits for a model) before the host sleeps.
    expect(composer(page)).to_be_enabled()
    assert web_stack.supervisor is not None
    web_stack.supervisor.sleep()
    send(page, "are you awake")
    waiting = last_answer(page).get_by_role("status")
    expect(waiting).to_contain_text("Starting the model host… 0 seconds")
    # It counts up about once a second while the host starts.
    expect(waiting).to_contain_text("Starting the model host… 2 seconds")
    # Then the answer streams as usual, and the note is gone.
    expect(last_answer(page).locator(".markdown")).to_have_text(reply("are you awake"))
    wait_until_answered(page)
    expect(page.get_by_text("Starting the model host")).to_have_count(0)
