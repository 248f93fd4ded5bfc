"""Fixtures of the browser tests: one Chromium per session, a fresh context and page per test,
the stack on a live server. A failing test leaves a screenshot and the console log under
``build/test-output/browser/<test>/`` (``STRATUS_TEST_OUTPUT`` moves it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from local.children import free_port
from local.emulator.testing import EmulatorHandle
from local.model_host_supervisor import Supervisor
from tests.support.system_deps import require
from tests.support.web import CHROMIUM_FLAGS, WebStack, artifact_dir, serve_web_stack

HOST_STARTING_SECONDS = 3.5
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
# Recorded in the page before any script of ours runs: the Content-Security-Policy violations.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push([e.violatedDirective, e.blockedURI, e.sourceFile]);
});
"""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    executable = require("chromium")
    launched = playwright_driver.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def web_stack(
    request: pytest.FixtureRequest, auth_env: dict[str, str], emulator: EmulatorHandle
) -> Iterator[WebStack]:
    """The stack in-process, or with ``indirect`` parametrisation in Lambda mode, or with a model
    host that sleeps and takes ``HOST_STARTING_SECONDS`` to wake (``host-starting``: the local
    supervisor, the same wake code as the GPU host's group)."""
    mode = getattr(request, "param", "in-process")
    with ExitStack() as running:
        supervisor = None
        if mode == "host-starting":
            supervisor = running.enter_context(
                Supervisor(port=free_port(), idle_seconds=3600, boot_seconds=HOST_STARTING_SECONDS)
            ).start()
        stack = running.enter_context(
            serve_web_stack(emulator, lambda_mode=mode == "lambda-mode", supervisor=supervisor)
        )
        yield stack


class PageWatch:
    """What a page did: its console, its errors, and every URL it asked for."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.requests: list[str] = []

    def on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"[{message.type}] {message.text}")

    def on_error(self, error: Any) -> None:
        self.console.append(f"[pageerror] {error}")


def open_page(
    browser: Browser,
    request: pytest.FixtureRequest,
    watch: PageWatch,
    stack: WebStack,
    **options: Any,
) -> Iterator[Page]:
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_error)
    page.on("request", lambda r: watch.requests.append(r.url))
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        reports = request.node.stash.get(REPORTS, {})
        failed = any(report.failed for report in reports.values())
        if not failed:
            _check_page(page, watch, stack)
        if failed:
            where = artifact_dir(request.node.nodeid)
            try:
                page.screenshot(path=str(where / "screenshot.png"), full_page=True)
            except Exception as error:  # the page may be gone; the log still helps
                watch.console.append(f"[screenshot failed] {error}")
            (where / "console.log").write_text("\n".join(watch.console) + "\n", encoding="utf-8")
        context.close()


def _check_page(page: Page, watch: PageWatch, stack: WebStack) -> None:
    """After every passing test: the page asked nothing of another host (no CDN, no tracker),
    and broke no rule of its Content-Security-Policy."""
    foreign = [url for url in watch.requests if not url.startswith(stack.base_url + "/")]
    assert foreign == [], foreign
    if not page.is_closed():
        violations = [
            v
            for v in page.evaluate("window.__cspViolations || []")
            # DOMPurify parses untrusted markup in an inert DOMParser document; Chrome checks
            # that document against the page's policy and reports its inline handlers, though
            # nothing in it can ever run. Anything else would be a real violation.
            if not str(v[2]).endswith("/vendor/dompurify/purify.es.mjs")
        ]
        assert violations == [], violations


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(
    browser: Browser, request: pytest.FixtureRequest, page_watch: PageWatch, web_stack: WebStack
) -> Iterator[Page]:
    yield from open_page(browser, request, page_watch, web_stack)


@pytest.fixture
def open_context(
    browser: Browser, request: pytest.FixtureRequest, web_stack: WebStack
) -> Iterator[Any]:
    """Opens further pages (another person, another screen size); each checked like ``page``."""
    opened: list[Iterator[Page]] = []

    def opener(**options: Any) -> Page:
        generator = open_page(browser, request, PageWatch(), web_stack, **options)
        opened.append(generator)
        return next(generator)

    yield opener
    for generator in opened:
        for _ in generator:
            pass
