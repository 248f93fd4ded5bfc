"""A property-based run over every operation of the API's OpenAPI document (schemathesis).

The document is built from the composed app, so a route chat or rag adds is covered here with no
change to this file. Each operation gets schemathesis' coverage cases (boundaries, missing and
wrong-typed fields, other methods and media types) and a bounded number of random ones, valid and
invalid, half of them carrying a hostile character (below), sent over real HTTP to the app on
real Postgres and moto, signed in as an administrator so that protected routes run their code,
not just the guard.

No request may get a 5xx; every 4xx must be JSON in the documented error shape; every status,
content type and body must be the one the document declares.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.composed import create_local_app
from stratus.openapi.build import build_document
from stratus.web.error_mapper import uses_ollama_shape, uses_openai_shape
from tests.support.auth import apply_env, unique_email
from tests.support.live_server import live_server
from tests.support.log_capture import remember

# Random examples per operation, on top of the deterministic coverage cases. With twenty
# operations the whole run takes about a minute on two cores.
MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Characters that broke or could break something: Postgres refuses NUL, terminals obey escapes,
# bidi overrides disguise names, lone surrogates cannot be encoded. Schemathesis rarely draws
# them on its own, so half the generated requests get one spliced into a string they carry.
HOSTILE = ["\x00", "\x1b[2J", "\u202e", "\x7f", "\x9b", "\n", "\t", "\r\n"]
HOSTILE_IN_BODIES = [*HOSTILE, "\ud800"]

schema = schemathesis.openapi.from_dict(build_document(create_local_app()))
# The run signs in itself; random credentials would only ever test the 401 path.
schema.config.generation.update(max_examples=MAX_EXAMPLES, with_security_parameters=False)


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _string_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _string_paths(item, (*path, index))]
    return []


def _splice(value: Any, path: tuple[Any, ...], text: str, at: int) -> Any:
    if not path:
        position = min(at, len(value))
        return value[:position] + text + value[position:]
    copied = copy.copy(value)
    copied[path[0]] = _splice(value[path[0]], path[1:], text, at)
    return copied


def _poisoned(value: Any, characters: list[str]) -> st.SearchStrategy[Any]:
    paths = _string_paths(value)
    if not paths:
        return st.just(value)
    spliced = st.builds(
        lambda path, text, at: _splice(value, path, text, at),
        st.sampled_from(paths),
        st.sampled_from(characters),
        st.integers(min_value=0, max_value=12),
    )
    return st.one_of(st.just(value), spliced)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    # A multipart form is encoded as UTF-8 by the client itself: a lone surrogate cannot be sent
    # there at all (the client fails before any request), so forms get the other characters.
    operation = context.operation
    multipart = operation is not None and any(
        b.media_type.startswith("multipart/") for b in operation.body
    )
    return _poisoned(body, HOSTILE if multipart else HOSTILE_IN_BODIES)


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[Any]:
    return _poisoned(path_parameters, HOSTILE)


@schema.hook
def flatmap_query(
    context: schemathesis.HookContext, query: dict[str, Any]
) -> st.SearchStrategy[Any]:
    return _poisoned(query, HOSTILE)


@dataclass
class Caller:
    """An administrator's session that survives the operations under test (sign-out, revoke)."""

    base_url: str
    email: str = field(default_factory=lambda: unique_email("fuzz-admin"))
    password: str = field(default_factory=lambda: remember("fuzz-admin-password-1"))
    token: str = ""

    def sign_up(self) -> None:
        response = httpx.post(
            self.base_url + "/api/v1/auths/signup",
            json={"name": "Fuzz Admin", "email": self.email, "password": self.password},
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "admin"
        self.token = remember(response.json()["token"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def keep_signed_in(self) -> None:
        if httpx.get(self.base_url + "/api/v1/auths/", headers=self.headers).status_code == 200:
            return
        response = httpx.post(
            self.base_url + "/api/v1/auths/signin",
            json={"email": self.email, "password": self.password},
        )
        assert response.status_code == 200, response.text
        self.token = remember(response.json()["token"])


@pytest.fixture
def caller(auth_env, emulator) -> Iterator[Caller]:
    # Generated sign-ins and password changes fail on purpose; the limiter must not end the run.
    # Model routes reach the emulator, so a 5xx can only be ours.
    apply_env(
        {
            "STRATUS_LOGIN_MAX_FAILURES": "100000",
            "STRATUS_LOGIN_MAX_FAILURES_PER_IP": "100000",
            "STRATUS_LOGIN_MAX_FAILURES_PER_ACCOUNT": "100000",
            "OLLAMA_BASE_URL": emulator.base_url,
        }
    )
    with live_server(create_local_app()) as server:
        signed_in = Caller(server.base_url)
        signed_in.sign_up()
        yield signed_in


def _assert_json_error(case: Any, response: Any) -> None:
    if response.status_code < 400:
        return
    # schemathesis keeps every value of a header.
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), (response.status_code, content_type)
    body = response.json()
    if uses_openai_shape(case.path):
        assert isinstance(body["error"]["message"], str), body
    elif uses_ollama_shape(case.path):
        assert isinstance(body["error"], str), body
        assert body["error"], body
    else:
        assert isinstance(body["detail"], str), body
        assert body["detail"], body


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_every_input_properly(case, caller):
    response = case.call(base_url=caller.base_url, headers=caller.headers, timeout=30)
    _assert_json_error(case, response)
    case.validate_response(response, checks=CHECKS)
    if case.method.upper() != "GET" and response.status_code < 400:
        caller.keep_signed_in()


def test_the_run_covers_every_operation_of_the_composed_app():
    # A vacuous run (no operations, or only some) must not pass quietly.
    operations = set()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.add((result.ok().path, result.ok().method.lower()))
    document = build_document(create_local_app())
    expected = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations == expected
    assert ("/api/v1/auths/signup", "post") in operations
    assert len(operations) >= 19
