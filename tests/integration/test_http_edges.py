"""HEAD on the routes monitors probe, and multipart forms over the parser's limits.

Load balancers and uptime monitors probe with HEAD: ``/``, ``/healthz`` and ``/readyz`` answer it
as they answer GET, without a body. A form over one of the multipart parser's limits (a very long
file name, thousands of header lines, thousands of parts) is a 413 with a JSON body that says
which limit, not Litestar's 400 "Request Entity Too Large" (parser bombs: matrix row 35).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from functions.auth.app import create_app as create_auth_app
from functions.chat.app import create_app as create_chat_app
from functions.rag.app import create_app as create_rag_app
from local.composed import create_local_app
from tests.support.auth import unique_email
from tests.support.live_server import live_server, served_api
from tests.support.log_capture import remember
from tests.support.rag import stored_objects

APPS = {
    "auth": create_auth_app,
    "chat": create_chat_app,
    "rag": create_rag_app,
    "local": create_local_app,
}
BOUNDARY = "stratusb0undary"


@pytest.fixture(params=["composed", "lambda-mode"])
def base_url(request, auth_env) -> Iterator[str]:
    """The whole API over real HTTP: in-process, and with each function behind its handler."""
    with served_api(request.param) as url:
        yield url


@pytest.mark.parametrize("path", ["/", "/healthz", "/readyz"])
def test_head_answers_as_get_does_without_a_body(base_url, path):
    with httpx.Client(base_url=base_url) as http:
        got = http.get(path, headers={"accept-encoding": "identity"})
        headed = http.head(path, headers={"accept-encoding": "identity"})
    # /readyz is 503 here (no model host), and HEAD says so too.
    assert headed.status_code == got.status_code
    assert got.status_code in (200, 503) if path == "/readyz" else got.status_code == 200
    assert headed.content == b""
    assert headed.headers["content-type"] == got.headers["content-type"]
    if path != "/readyz":  # readiness latencies change the length from one call to the next
        assert headed.headers["content-length"] == str(len(got.content))
    assert "x-request-id" in headed.headers


@pytest.mark.parametrize("name", APPS)
def test_every_function_answers_head_on_its_health_routes(auth_env, name):
    app: Litestar = APPS[name]()
    with live_server(app) as server, httpx.Client(base_url=server.base_url) as http:
        assert http.head("/healthz").status_code == 200
        assert http.head("/readyz").status_code in (200, 503)
        # Other GET routes are not opened to HEAD by this.
        assert http.head("/api/v1/no-such-route").status_code == 404


def _form(*parts: str) -> bytes:
    return (
        "".join(f"--{BOUNDARY}\r\n{part}\r\n" for part in parts) + f"--{BOUNDARY}--\r\n"
    ).encode()


def _file_part(filename: str, extra_headers: str = "") -> str:
    return (
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"{extra_headers}Content-Type: text/plain\r\n\r\nplain text"
    )


FORMS: dict[str, tuple[bytes, str]] = {
    "a 5,000-character file name": (_form(_file_part("n" * 4_996 + ".txt")), "file name"),
    "50,000 header lines": (
        _form(_file_part("a.txt", "".join(f"X-Line-{i}: x\r\n" for i in range(50_000)))),
        "header lines",
    ),
    "20,000 parts": (
        _form(*(f'Content-Disposition: form-data; name="f{i}"\r\n\r\nx' for i in range(20_000))),
        "parts",
    ),
}


@pytest.mark.parametrize("form", FORMS, ids=str)
def test_forms_over_the_parsers_limits_are_413_with_a_reason(rag_env, form):
    body, reason = FORMS[form]
    with live_server(create_local_app()) as server, httpx.Client(base_url=server.base_url) as http:
        email = unique_email("form")
        password = remember("form-limit-password-1")
        signed = http.post(
            "/api/v1/auths/signup", json={"name": "F", "email": email, "password": password}
        )
        assert signed.status_code == 200, signed.text
        token = remember(signed.json()["token"])
        response = http.post(
            "/api/v1/files/",
            content=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
        )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail: Any = response.json()["detail"]
    assert detail.startswith("The multipart form is over a limit"), detail
    assert reason in detail
    assert stored_objects(Path(rag_env["UPLOAD_DIR"])) == []
