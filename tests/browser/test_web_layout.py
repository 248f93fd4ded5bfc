"""Usable by everyone: phone width (a drawer for the chats, nothing scrolling sideways, a
placeholder that fits, the scroll position held across a resize), the system's dark mode, and a
name for every control."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, ViewportSize, expect

from tests.support.web import (
    WebStack,
    composer,
    last_answer,
    open_auth_page,
    send,
    sign_in,
    wait_until_answered,
)

# Every control on the page and the name a screen reader would announce for it.
UNNAMED_CONTROLS = """
() => {
  const nameOf = (el) => {
    if (el.getAttribute('aria-label')) return el.getAttribute('aria-label');
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      return by.split(' ').map((id) => document.getElementById(id)?.textContent || '').join(' ');
    }
    if (el.labels && el.labels.length) return [...el.labels].map((l) => l.textContent).join(' ');
    return el.textContent || el.getAttribute('title') || '';
  };
  return [...document.querySelectorAll('button, a[href], input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && !nameOf(el).trim())
    .map((el) => el.outerHTML.slice(0, 120));
}
"""


def _luminance(page: Page, selector: str) -> float:
    rgb = page.eval_on_selector(
        selector, "(el) => getComputedStyle(el).backgroundColor.match(/\\d+/g).map(Number)"
    )
    return float(sum(rgb[:3]) / 3)


def test_phone_width_hides_the_chat_list_behind_a_button(open_context: Any, web_stack: WebStack):
    page: Page = open_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    sign_in(page, web_stack, web_stack.user())
    send(page, "hello from a phone")
    wait_until_answered(page)
    chats = page.get_by_role("navigation", name="Chats")
    expect(chats).not_to_be_in_viewport()
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(composer(page)).to_be_in_viewport()
    menu = page.get_by_role("button", name="Show chats")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(chats).to_be_in_viewport()
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="New chat").click()
    expect(chats).not_to_be_in_viewport()
    expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()


def test_the_page_follows_the_system_colour_scheme(open_context: Any, web_stack: WebStack):
    dark: Page = open_context(color_scheme="dark")
    light: Page = open_context(color_scheme="light")
    for page in (dark, light):
        open_auth_page(page, web_stack)
    assert _luminance(dark, "body") < 60
    assert _luminance(light, "body") > 200


def test_every_control_has_an_accessible_name(page: Page, web_stack: WebStack):
    open_auth_page(page, web_stack)
    assert page.evaluate(UNNAMED_CONTROLS) == []
    admin = web_stack.admin()
    web_stack.user()
    sign_in(page, web_stack, admin)
    send(page, "hello")
    wait_until_answered(page)
    assert page.evaluate(UNNAMED_CONTROLS) == []
    for link in ("Settings", "Users"):
        page.get_by_role("link", name=link).click()
        page.get_by_role("heading", level=1).first.wait_for()
        assert page.evaluate(UNNAMED_CONTROLS) == [], link


PHONE_SIZE: ViewportSize = {"width": 390, "height": 844}
PHONE: dict[str, Any] = {"viewport": PHONE_SIZE, "is_mobile": True, "has_touch": True}
WIDE_ANSWER = (
    "echo: A long address: https://example.test/" + "a-very-long-path-segment/" * 8 + "\n\n"
    "```text\n" + "a code line far wider than any phone screen " * 6 + "\n```\n\n"
    "| " + " | ".join(f"column {n}" for n in range(12)) + " |\n"
    "|" + "---|" * 12 + "\n"
    "| " + " | ".join(f"value {n}" for n in range(12)) + " |\n"
)
# Nothing on the page is wider than the screen (the page itself never scrolls sideways).
NO_SIDEWAYS_SCROLL = """() => {
  const width = document.documentElement.clientWidth;
  const wider = [...document.querySelectorAll('body *')].filter((el) => {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || getComputedStyle(el).visibility === 'hidden') return false;
    // Inside something that scrolls sideways on its own (a code block, a table's frame).
    const frame = el.parentElement?.closest('pre, .table-wrap, .sidebar');
    return !frame && box.right > width + 1;
  });
  return {page: document.documentElement.scrollWidth <= width,
          wider: wider.slice(0, 5).map((el) => el.tagName + '.' + el.className)};
}"""
# How wide the composer's placeholder is against the room it has.
PLACEHOLDER_FITS = """() => {
  const box = document.getElementById('composer-input');
  const style = getComputedStyle(box);
  const context = document.createElement('canvas').getContext('2d');
  context.font = `${style.fontSize} ${style.fontFamily}`;
  const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return context.measureText(box.placeholder).width <= room;
}"""


def test_at_phone_width_nothing_scrolls_sideways_and_the_placeholder_fits(
    open_context: Any, web_stack: WebStack
):
    page: Page = open_context(**PHONE)
    admin = web_stack.admin()
    web_stack.user("A person with a rather long name to show in the table")
    sign_in(page, web_stack, admin)
    assert page.evaluate(PLACEHOLDER_FITS)
    send(page, WIDE_ANSWER)
    wait_until_answered(page)
    expect(last_answer(page).locator(".table-wrap table")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL) == {"page": True, "wider": []}
    # The wide parts scroll inside their own frames instead.
    assert page.locator(".table-wrap").evaluate("(el) => el.scrollWidth > el.clientWidth")
    for link in ("Users", "Settings", "Files and knowledge"):
        page.get_by_role("button", name="Show chats").click()
        page.get_by_role("link", name=link).click()
        page.get_by_role("heading", level=1).first.wait_for()
        assert page.evaluate(NO_SIDEWAYS_SCROLL) == {"page": True, "wider": []}, link


def _top_block(page: Page) -> str:
    """The text of the block at the top of the conversation's visible part."""
    text: str = page.evaluate(
        """() => {
          const box = document.querySelector('.messages').getBoundingClientRect();
          for (let y = box.top + 4; y < box.bottom; y += 8) {
            const block = document.elementFromPoint(box.left + box.width / 2, y)
              ?.closest('p, li, .bubble');
            if (block) return block.textContent;
          }
          return null;
        }"""
    )
    return text


def test_the_scroll_position_holds_across_a_resize(open_context: Any, web_stack: WebStack):
    page: Page = open_context(**PHONE)
    sign_in(page, web_stack, web_stack.user())
    paragraphs = "\n\n".join(
        f"Paragraph {n}: " + "some words that wrap differently at every width " * 4
        for n in range(40)
    )
    send(page, "echo: " + paragraphs)
    wait_until_answered(page)
    messages = page.locator(".messages")
    # The answer's 20th paragraph at the top (the question above is as long as the answer, so
    # a fixed fraction of the height could land in either).
    # Blocks above it take their real heights once near the screen (content-visibility), which
    # can move it after one jump on a busy machine: jump until it holds.
    for _ in range(20):
        messages.evaluate(
            """(el) => {
              const target = [...el.querySelectorAll('p')]
                .filter((p) => p.textContent.startsWith('Paragraph 20:')).pop();
              const top = el.getBoundingClientRect().top;
              el.scrollTop += target.getBoundingClientRect().top - top + 2;
            }"""
        )
        page.wait_for_timeout(200)
        if _top_block(page).startswith("Paragraph 20:"):
            break
    before = _top_block(page)
    assert before.startswith("Paragraph 20:")
    sizes: list[ViewportSize] = [
        {"width": 844, "height": 390},
        {"width": 1280, "height": 800},
        PHONE_SIZE,
    ]
    for size in sizes:
        page.set_viewport_size(size)
        page.wait_for_timeout(300)
        # The same paragraph is still at the top (the text above it reflowed to a new height).
        assert _top_block(page) == before, size
    # At the bottom, a resize keeps the bottom in view.
    messages.evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_timeout(200)
    page.set_viewport_size({"width": 844, "height": 390})
    page.wait_for_timeout(300)
    assert messages.evaluate("(el) => el.scrollHeight - el.scrollTop - el.clientHeight < 40")
