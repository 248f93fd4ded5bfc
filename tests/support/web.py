"""The web client's browser tests: Debian's chromium driven by Playwright, against the composed
app on a live server with the model-host emulator.

One browser per test session (starting Chromium costs about a second); each test gets a fresh
context, so no storage, cache or session leaks between tests. Playwright starts Chromium with a
fresh temporary profile of its own (``--user-data-dir`` in a new temp directory) on every launch;
it refuses the flag as an argument. ``playwright install`` is never run: the executable is
Debian's (``make system-deps``), and a missing one fails the test with what to install.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from local.emulator.testing import EmulatorHandle
from local.model_host_supervisor import Supervisor
from tests.support.auth import Account, apply_env
from tests.support.chat import CHAT_TEST_ENV
from tests.support.live_server import live_server
from tests.support.log_capture import remember

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHAT_MODEL = "emulator-chat:latest"


def output_dir() -> Path:
    """Where browser tests leave screenshots, console logs and measured figures."""
    return Path(os.environ.get("STRATUS_TEST_OUTPUT", REPO / "build" / "test-output")) / "browser"


def artifact_dir(nodeid: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]
    path = output_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_figure(name: str, values: Mapping[str, Any]) -> Path:
    path = output_dir() / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(values), indent=2) + "\n", encoding="utf-8")
    return path


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@example.test"


@dataclass
class WebStack:
    base_url: str
    emulator: EmulatorHandle
    http: httpx.Client
    accounts: list[Account] = field(default_factory=list)
    # The emulated model host's supervisor when the stack scales it to zero.
    supervisor: Supervisor | None = None

    def signup(self, name: str = "Test User", label: str = "user") -> Account:
        email = unique_email(label)
        password = remember(f"pw-{uuid.uuid4().hex}")
        response = self.http.post(
            "/api/v1/auths/signup", json={"name": name, "email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        account = Account(body["id"], email, password, remember(body["token"]), body["role"])
        self.accounts.append(account)
        return account

    def admin(self) -> Account:
        """The first account, which is the administrator (the database starts empty)."""
        existing = [a for a in self.accounts if a.role == "admin"]
        if existing:
            return existing[0]
        account = self.signup("Admin", "admin")
        assert account.role == "admin", "an account existed before the test"
        return account

    def user(self, name: str = "Test User") -> Account:
        """An approved user."""
        admin = self.admin()
        pending = self.signup(name)
        response = self.http.post(
            f"/api/v1/users/{pending.id}/update", json={"role": "user"}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        return Account(pending.id, pending.email, pending.password, pending.token, "user")

    def chat(self, account: Account, chat_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/chats/{chat_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def chats(self, account: Account) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/chats/", headers=account.headers)
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body

    def upload(self, account: Account, name: str, content: bytes, within: float = 30) -> str:
        """A file uploaded through the API and processed (ready to search); its id."""
        response = self.http.post(
            "/api/v1/files/",
            files={"file": (name, content, "text/plain")},
            headers=account.headers,
        )
        assert response.status_code == 200, response.text
        file_id: str = response.json()["id"]
        deadline = time.monotonic() + within
        while True:
            status = self.http.get(
                f"/api/v1/files/{file_id}/process/status", headers=account.headers
            ).json()
            if status["state"] == "ready":
                return file_id
            assert status["state"] != "failed", status
            assert time.monotonic() < deadline, status
            time.sleep(0.05)


@contextmanager
def serve_web_stack(
    emulator: EmulatorHandle,
    *,
    lambda_mode: bool = False,
    env: Mapping[str, str] | None = None,
    supervisor: Supervisor | None = None,
) -> Iterator[WebStack]:
    """The local stack's app on a live server, ``emulator`` as its model host. Use inside a test
    with ``auth_env`` (empty accounts; the environment is restored afterwards). With
    ``supervisor``, the model host is the supervisor's emulator, which sleeps and wakes
    (scale-to-zero, ``local/model_host_supervisor.py``)."""
    host = {"OLLAMA_BASE_URL": emulator.base_url}
    if supervisor is not None:
        host = {
            "OLLAMA_BASE_URL": supervisor.base_url,
            "STRATUS_MODEL_HOST_SUPERVISOR_URL": supervisor.control_url,
            "STRATUS_MODEL_HOST_WAKE_POLL_SECONDS": "0.1",
        }
    apply_env({**host, **CHAT_TEST_ENV, **(env or {})})
    if lambda_mode:
        from local.lambda_bridge import create_lambda_mode_app

        app: Any = create_lambda_mode_app()
    else:
        from local.composed import create_local_app

        app = create_local_app()
    try:
        with (
            live_server(app) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as http,
        ):
            yield WebStack(server.base_url, emulator, http, supervisor=supervisor)
    finally:
        if lambda_mode:
            app.shutdown()


# Actions on the page, as a person does them.


def sign_in(page: Any, stack: WebStack, account: Account) -> None:
    page.goto(stack.base_url + "/")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    composer(page).wait_for()


def open_auth_page(page: Any, stack: WebStack) -> None:
    """The page before sign-in, its form shown as the server's /api/config says (a fresh
    instance opens on its administrator's sign-up, any other on sign-in)."""
    page.goto(stack.base_url + "/")
    page.locator("form.auth[data-ready]").wait_for()


def composer(page: Any) -> Any:
    return page.get_by_role("textbox", name="Message")


def send(page: Any, text: str) -> None:
    box = composer(page)
    box.fill(text)
    box.press("Enter")


def answers(page: Any) -> Any:
    return page.locator("article.msg.assistant")


def last_answer(page: Any) -> Any:
    return answers(page).last


def wait_until_answered(page: Any, timeout: float = 10_000) -> None:
    """The answer is finished and saved: nothing is being sent (the chat is not busy from the
    key press on, so this cannot pass before the request left), Send is back."""
    page.locator("section.chat:not([aria-busy='true'])").wait_for(timeout=timeout)
    page.get_by_role("button", name="Send message").wait_for(timeout=timeout)
    page.locator("article.msg.assistant[aria-busy='true']").wait_for(
        state="detached", timeout=timeout
    )
