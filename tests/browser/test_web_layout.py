"""Usable by everyone: phone width, the system's dark mode, and a name for every control."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.support.web import (
    WebStack,
    composer,
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
