"""SnapStart: each function serves, is snapshotted and restored, and serves again afresh.

The Mangum functions register their hooks with the runtime's ``snapshot_restore_py`` (the real
module, installed for the tests); the tests run them as the Python runtime does (before-snapshot
hooks in reverse order of registration, after-restore hooks in order) between two invocations.
Chat, under the Web Adapter, gets them as the adapter sends them: POSTs from inside the sandbox.

After a restore, the old Postgres connection is gone and a new one serves (told apart by its
backend pid, under an application name of the test's own), the clients are new objects, the old
ones closed, and the random generator no longer follows the snapshot's sequence.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
import snapshot_restore_py

from local.children import free_port
from stratus.db.pool import _pool
from stratus.ephemeral.table import ephemeral_model
from stratus.web.snapstart import AFTER_RESTORE_PATH, BEFORE_CHECKPOINT_PATH
from tests.handler.lambda_runtime import context_for, fresh_handler_module, load_event, runtime_loop
from tests.support.auth import apply_env
from tests.support.chat import ChatStack, chat_body
from tests.support.cold_start import RUN_SH, Server, function_env, server_process, with_token

__all__ = ["runtime_loop"]

APP_NAME = "stratus-snapstart-test"


@pytest.fixture
def hooks() -> Iterator[tuple[list[Any], list[Any]]]:
    """The runtime's registries, empty: earlier tests' handler imports registered theirs."""
    before = snapshot_restore_py.get_before_snapshot()
    after = snapshot_restore_py.get_after_restore()
    before.clear()
    after.clear()
    yield before, after
    before.clear()
    after.clear()


def run_before_snapshot(registry: list[Any]) -> None:
    for func, args, kwargs in reversed(registry):
        func(*args, **kwargs)


def run_after_restore(registry: list[Any]) -> None:
    for func, args, kwargs in registry:
        func(*args, **kwargs)


def backends(database_url: str, app_name: str) -> set[int]:
    """Postgres backends of the function under test (its own application name)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
            " AND pid <> pg_backend_pid()",
            (app_name,),
        ).fetchall()
    return {row[0] for row in rows}


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _signup_token(module: Any) -> str:
    event = load_event("auth_signin_http_v2")
    body = json.loads(event["body"]) | {"name": "Lambda User"}
    event["body"] = json.dumps(body)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/v1/auths/signup"
    result = module.handler(event, context_for("auth"))
    assert result["statusCode"] == 200, result
    token: str = json.loads(result["body"])["token"]
    return token


def test_auth_handler_around_a_snapshot_and_restore(auth_env, runtime_loop, hooks):
    before, after = hooks
    # One connection, as in Lambda; its application name tells it apart.
    app_name = f"{APP_NAME}-auth"
    apply_env({"PGAPPNAME": app_name, "DATABASE_POOL_SIZE": "1"})
    database_url = auth_env["DATABASE_URL"]
    # GIVEN an initialised auth function that has served a request
    module = fresh_handler_module("auth")
    assert (len(before), len(after)) == (1, 1)
    me = with_token(load_event("auth_me_http_v2"), _signup_token(module))
    assert module.handler(me, context_for("auth"))["statusCode"] == 200
    pool, table = _pool.built_for(runtime_loop), ephemeral_model()
    client = table._get_connection().connection.client
    first_backends = backends(database_url, app_name)
    assert pool is not None
    assert len(first_backends) == 1
    from functions.auth.deps import SERVICES

    dummy = SERVICES.accounts().passwords.dummy_hash

    # WHEN it is snapshotted: nothing stays connected
    run_before_snapshot(before)
    assert pool.closed
    assert eventually(lambda: not backends(database_url, app_name))
    # ... and restored, the snapshot's random state with it
    random.seed(20261129)
    snapshot_sequence = random.Random(20261129).random()
    run_after_restore(after)

    # THEN the restored environment holds new, unconnected clients and its own randomness
    restored_pool = _pool.built_for(runtime_loop)
    assert restored_pool is not None
    assert restored_pool is not pool
    assert restored_pool.closed  # built, not yet opened: the next request opens it
    assert table._get_connection().connection.client is not client
    assert SERVICES.accounts().passwords.dummy_hash != dummy
    assert random.random() != snapshot_sequence
    # AND requests work, over a new Postgres connection
    assert module.handler(me, context_for("auth"))["statusCode"] == 200
    signin = module.handler(load_event("auth_signin_http_v2"), context_for("auth"))
    assert signin["statusCode"] == 200, signin
    second_backends = backends(database_url, app_name)
    assert len(second_backends) == 1
    assert second_backends.isdisjoint(first_backends)


def test_rag_handler_around_a_snapshot_and_restore(env, runtime_loop, hooks):
    before, after = hooks
    module = fresh_handler_module("rag")
    event = load_event("http_v2_readyz")
    assert module.handler(event, context_for("rag"))["statusCode"] == 200
    pool = _pool.built_for(runtime_loop)
    run_before_snapshot(before)
    run_after_restore(after)
    assert _pool.built_for(runtime_loop) is not pool
    assert module.handler(event, context_for("rag"))["statusCode"] == 200


# -- chat under the Web Adapter ------------------------------------------------------------------


def _peers(server: Server) -> set[tuple[int, int]]:
    """The server process's established TCP connections: (local port, remote port)."""
    return {
        (c.laddr.port, c.raddr.port)
        for c in psutil.Process(server.process.pid).net_connections(kind="tcp")
        if c.raddr and c.status == psutil.CONN_ESTABLISHED
    }


def _to(peers: set[tuple[int, int]], port: int) -> set[tuple[int, int]]:
    return {p for p in peers if p[1] == port}


def _stream(server: Server, stack: ChatStack) -> None:
    body = json.dumps(chat_body("hello there", stream=True)).encode()
    headers = {**stack.user.headers, "content-type": "application/json"}
    answer = server.request("POST", "/v1/chat/completions", body, headers)
    assert answer.status == 200, answer.body
    assert b"[DONE]" in answer.body


@pytest.mark.anyio
async def test_chat_under_the_web_adapter_around_a_snapshot_and_restore(
    chat_stack: ChatStack, tmp_path: Path
):
    app_name = f"{APP_NAME}-chat"
    env = {**function_env(dict(os.environ), Path(sys.executable)), "PGAPPNAME": app_name}
    env["AWS_LAMBDA_FUNCTION_NAME"] = "stratus-chat"
    database_url = env["DATABASE_URL"]
    model_port = int(chat_stack.emulator.base_url.rsplit(":", 1)[1])
    dynamodb_port = int(env["AWS_ENDPOINT_URL_DYNAMODB"].rsplit(":", 1)[1])
    with server_process(
        ["/bin/sh", str(RUN_SH)], env, free_port(), log=tmp_path / "run-sh.log"
    ) as server:
        server.wait_ready()
        # GIVEN chat has streamed an answer: connected to Postgres, the model host, DynamoDB
        _stream(server, chat_stack)
        peers = _peers(server)
        assert _to(peers, model_port)
        assert _to(peers, dynamodb_port)
        first_backends = backends(database_url, app_name)
        assert first_backends

        # WHEN a request through API Gateway names a hook path, it is not the hook
        gateway = {"x-amzn-request-context": json.dumps({"requestId": "r"})}
        assert server.request("POST", AFTER_RESTORE_PATH, b"", gateway).status == 404
        assert backends(database_url, app_name) == first_backends

        # WHEN the adapter calls the hooks around a snapshot
        assert server.request("POST", BEFORE_CHECKPOINT_PATH, b"").status == 204
        # THEN nothing stays connected
        assert eventually(lambda: not backends(database_url, app_name))
        assert eventually(lambda: not _to(_peers(server), model_port)), _peers(server)
        assert eventually(lambda: not _to(_peers(server), dynamodb_port))
        assert server.request("POST", AFTER_RESTORE_PATH, b"").status == 204

        # AND after the restore it streams again, over new connections
        _stream(server, chat_stack)
        assert _to(_peers(server), model_port).isdisjoint(_to(peers, model_port))
        assert _to(_peers(server), dynamodb_port)
        second_backends = backends(database_url, app_name)
        assert second_backends
        assert second_backends.isdisjoint(first_backends)
