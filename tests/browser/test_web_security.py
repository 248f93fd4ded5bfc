"""Model output and names are untrusted: markup in an answer, a question or a chat title never
runs, whether or not the Content-Security-Policy is there to stop it.

With ``bypass_csp`` the browser ignores the page's policy, so only the sanitiser (DOMPurify)
stands between the payload and the flag it would set; without it both walls stand, and the
policy must never have had to act (no violation reported)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.web import WebStack, last_answer, send, sign_in, wait_until_answered

PAYLOAD = """echo: Here is some markup.

<img src=x onerror="window.__xss='img'">
<script>window.__xss='script'</script>
<svg><script>window.__xss='svg'</script><animate onbegin="window.__xss='animate'"/></svg>
<a href="javascript:window.__xss='link'">html link</a>

A [markdown link](javascript:window.__xss='mdlink') and ![an image](x" onerror="window.__xss='md').

<iframe srcdoc="<script>parent.__xss='iframe'</script>"></iframe>
<details open ontoggle="window.__xss='toggle'"><summary>more</summary>x</details>
<form><button formaction="javascript:window.__xss='form'">go</button></form>
<object data="javascript:window.__xss='object'"></object>
<style>body { display: none }</style>

The end."""

# Anything in the rendered answer that could run or load a script.
DANGER = """
(root) => {
  const found = [];
  for (const el of root.querySelectorAll('*')) {
    if (['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'FORM', 'STYLE', 'BUTTON'].includes(el.tagName)
        && !el.classList.contains('copy-code')) found.push(el.tagName);
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) found.push(el.tagName + ' ' + attr.name);
      if (/^\\s*javascript:/i.test(attr.value)) found.push(el.tagName + ' ' + attr.name);
    }
  }
  return found;
}
"""


@pytest.mark.parametrize("csp", ["bypassed", "enforced"])
def test_markup_in_an_answer_a_question_and_a_title_never_runs(
    open_context: Any, web_stack: WebStack, csp: str
):
    page: Page = open_context(bypass_csp=csp == "bypassed")
    sign_in(page, web_stack, web_stack.user())
    web_stack.emulator.set_faults(token_delay=0.01)
    send(page, PAYLOAD)
    answer = last_answer(page)
    expect(answer.locator(".markdown")).to_contain_text("The end.")
    wait_until_answered(page)
    markdown = answer.locator(".markdown")
    assert markdown.evaluate(DANGER) == []
    # The harmless parts are still shown.
    expect(markdown).to_contain_text("html link")
    expect(markdown).to_contain_text("markdown link")
    for name in ("html link", "markdown link"):
        markdown.get_by_text(name).click()
    page.locator("details summary").first.click()
    # Shown as text where the person typed it: in the question and in the chat's title.
    expect(page.locator(".msg.user .bubble")).to_contain_text("<img src=x onerror=")
    title = page.get_by_role("navigation", name="Chats").get_by_role("link").first
    expect(title).to_contain_text("<img src=x onerror=")
    page.reload()
    expect(last_answer(page).locator(".markdown")).to_contain_text("The end.")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert last_answer(page).locator(".markdown").evaluate(DANGER) == []
