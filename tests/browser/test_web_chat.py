"""The chat page in a real browser: sign-up, a first chat streaming in, stop, regenerate and
branches, reload, the chat list, and errors in plain words."""

from __future__ import annotations

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
