"""No password, token or full API key in any log record (security matrix row 31).

This test runs a representative flow of its own, so it never passes on an empty list, then scans
every record captured so far in the session. The session-wide capture fixture scans once more at
the very end, after every other test has run.
"""

from __future__ import annotations

import pytest

from tests.support.auth import admin_and_user, create_key, signin
from tests.support.log_capture import issued_secrets, leaks, remember

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
