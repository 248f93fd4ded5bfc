"""No password, token, full API key or hash in any log record (security matrix row 31).

The first test runs a representative flow of its own, so it never passes on an empty list, then
scans every record captured so far in the session, both for the secrets the tests remembered and
for anything shaped like a credential. The session-wide capture fixture scans once more at the
very end, after every other test has run. The planted-secret tests prove the shape scan can fail.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from stratus.auth import api_keys
from stratus.auth.passwords import Argon2Parameters, Passwords
from stratus.auth.tokens import TokenCodec
from tests.support.auth import admin_and_user, create_key, signin
from tests.support.log_capture import (
    SECRET_PATTERNS,
    CapturingHandler,
    issued_secrets,
    leaks,
    pattern_leaks,
    remember,
)

pytestmark = pytest.mark.anyio


async def test_no_secret_appears_in_any_log_record(auth_client, log_capture):
    admin, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    # Paths that log at warning or error level, and the error mapper's exception path.
    await signin(auth_client, user.email, remember("a-wrong-password-for-the-scan"))
    await auth_client.get("/api/v1/auths/", headers={"x-api-key": key[:-1] + "0"})
    await auth_client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {user.token}x"})
    await auth_client.post(
        "/api/v1/auths/update/password",
        json={"password": user.password, "new_password": remember("a-new-password-for-scan")},
        headers=user.headers,
    )
    await auth_client.post("/api/v1/auths/signout", headers=admin.headers)

    secrets = issued_secrets()
    assert {user.password, user.token, key, admin.token} <= secrets
    records = log_capture.snapshot()
    # The capture works: the requests above were logged.
    assert any("/api/v1/auths/signin" in record for record in records)
    assert leaks(records, secrets) == []
    assert pattern_leaks(records) == []


async def test_error_bodies_never_echo_credentials(auth_client):
    _, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    bad_key = await auth_client.get("/api/v1/auths/", headers={"x-api-key": key + "ff"})
    bad_token = await auth_client.get(
        "/api/v1/auths/", headers={"Authorization": "Bearer " + user.token[:-2]}
    )
    oversize = await auth_client.post(
        "/api/v1/auths/signin", json={"email": user.email, "password": user.password + "é" * 600}
    )
    for response in (bad_key, bad_token, oversize):
        assert response.status_code in {401, 422}
        assert key not in response.text
        assert user.token[:-2] not in response.text
        assert user.password not in response.text


@pytest.fixture
def private_log() -> Iterator[tuple[logging.Logger, CapturingHandler]]:
    """A logger whose records reach only this handler: planted secrets must not reach the
    session-wide capture, whose final scan would (rightly) fail on them."""
    logger = logging.getLogger(f"tests.planted.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = CapturingHandler()
    logger.addHandler(handler)
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)


async def _real_credentials() -> dict[str, str]:
    """One credential of each kind, made by the code that makes them in production."""
    token, _ = TokenCodec("p" * 40, lifetime_seconds=60).issue(str(uuid.uuid4()), 0)
    fast = Argon2Parameters(time_cost=1, memory_kib=1024, parallelism=1)
    return {
        "JWT": token,
        "API key": api_keys.generate(),
        "argon2 hash": await Passwords(fast).hash("planted-password"),
        "bearer header": f"Bearer {uuid.uuid4().hex}",
    }


async def test_the_shape_scan_flags_planted_secrets_it_was_never_told_about(private_log):
    logger, handler = private_log
    credentials = await _real_credentials()
    assert set(credentials) == set(SECRET_PATTERNS)
    # Each secret where a careless log call would put it: the message, an argument, an extra
    # field and a traceback.
    logger.info("issued %s", credentials["JWT"])
    logger.warning("key check failed", extra={"credential": credentials["API key"]})
    logger.info(f"stored hash {credentials['argon2 hash']}")
    try:
        raise ValueError(f"upstream refused Authorization: {credentials['bearer header']}")
    except ValueError:
        logger.exception("call failed")

    found = pattern_leaks(handler.snapshot())

    assert {kind for kind, _ in found} == set(credentials)
    # The report points at each leak without repeating the secret.
    for (kind, excerpt), secret in ((f, credentials[f[0]]) for f in found):
        assert secret not in excerpt, kind


@pytest.mark.parametrize("kind", list(SECRET_PATTERNS))
async def test_the_shape_scan_catches_each_kind_alone(private_log, kind):
    logger, handler = private_log
    logger.debug("value: %r", (await _real_credentials())[kind])
    assert {found for found, _ in pattern_leaks(handler.snapshot())} == {kind}


def test_what_may_be_logged_is_not_flagged(private_log):
    logger, handler = private_log
    key = api_keys.generate()
    logger.info(
        "key created",
        extra={
            "prefix": api_keys.display_prefix(key),
            "user_id": str(uuid.uuid4()),
            "scheme": "Bearer",
            "argon2": Argon2Parameters(3, 65536, 4).describe(),
            "path": "/api/v1/auths/api_keys",
        },
    )
    records = handler.snapshot()
    assert any(api_keys.display_prefix(key) in record for record in records)
    assert pattern_leaks(records) == []
