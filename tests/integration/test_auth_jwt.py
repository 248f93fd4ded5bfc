"""JWT forgery through the HTTP API: every forged or stale token is a 401; nothing is fetched."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest

from tests.support import jwt_forge
from tests.support.auth import TEST_SECRET, Account, admin_and_user, bearer

pytestmark = pytest.mark.anyio

SESSION_USER = "/api/v1/auths/"


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"keys": []}')

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def key_server() -> Iterator[str]:
    """A JWKS endpoint on loopback that counts requests: any fetch would be a finding."""
    _Counter.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def _claims(account: Account, **changes: object) -> dict[str, object]:
    claims = jwt_forge.claims_of(account.token)
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _forgeries(admin: Account, user: Account, jwks_url: str) -> dict[str, str]:
    """Each forgery starts from the user's real claims and tries to become, or stay, someone."""
    attacker = jwt_forge.attacker_rsa()
    hs = {"alg": "HS256", "typ": "JWT"}
    secret = TEST_SECRET.encode()
    as_admin = _claims(user, sub=admin.id)
    now = int(time.time())
    return {
        "alg none": jwt_forge.unsigned({"alg": "none", "typ": "JWT"}, as_admin),
        "alg None": jwt_forge.unsigned({"alg": "None"}, as_admin),
        "wrong key": jwt_forge.hs256(hs, as_admin, b"x" * 48),
        "empty key": jwt_forge.hs256(hs, as_admin, b""),
        "RS256 by attacker": jwt.encode(as_admin, attacker, algorithm="RS256"),
        "HS256 keyed with the attacker's public PEM": jwt_forge.hs256(
            hs, as_admin, jwt_forge.public_pem(attacker)
        ),
        "HS512 with the real key": jwt_forge.hs256({"alg": "HS512"}, _claims(user), secret),
        "tampered payload, old signature": ".".join(
            [
                user.token.split(".")[0],
                jwt_forge.hs256(hs, as_admin, b"k").split(".")[1],
                user.token.split(".")[2],
            ]
        ),
        "no exp": jwt_forge.hs256(hs, _claims(user, exp=None), secret),
        "no jti": jwt_forge.hs256(hs, _claims(user, jti=None), secret),
        "no ver": jwt_forge.hs256(hs, _claims(user, ver=None), secret),
        "expired": jwt_forge.hs256(hs, _claims(user, exp=now - 5, iat=now - 100), secret),
        "exp as string": jwt_forge.hs256(hs, _claims(user, exp=str(now + 999)), secret),
        "kid header": jwt_forge.hs256({**hs, "kid": "../../etc/passwd"}, _claims(user), secret),
        "jku header": jwt_forge.hs256({**hs, "jku": jwks_url}, _claims(user), secret),
        "x5u header": jwt_forge.hs256({**hs, "x5u": jwks_url}, _claims(user), secret),
        "jwk header": jwt.encode(
            as_admin,
            attacker,
            algorithm="RS256",
            headers={
                "jwk": jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
            },
        ),
        # Validly signed, but not bound to a live session of this user.
        "other user's sub": jwt_forge.hs256(hs, as_admin, secret),
        "unknown jti": jwt_forge.hs256(hs, _claims(user, jti=uuid.uuid4().hex), secret),
        "old token version": jwt_forge.hs256(hs, _claims(user, ver=-1), secret),
        "not a jwt": "definitely-not-a-token",
        "huge": "a" * 5000,
    }


async def test_every_forged_token_is_401_and_no_key_is_fetched(auth_client, key_server):
    admin, user = await admin_and_user(auth_client)
    forgeries = _forgeries(admin, user, key_server)
    results = {}
    for name, token in forgeries.items():
        response = await auth_client.get(SESSION_USER, headers=bearer(token))
        results[name] = response.status_code
        assert response.headers.get("www-authenticate") == "Bearer", name
    assert results == dict.fromkeys(forgeries, 401)
    assert _Counter.hits == 0
    # The originals still work: the 401s came from the forgery, not from a broken session.
    assert (await auth_client.get(SESSION_USER, headers=user.headers)).status_code == 200
    admin_route = await auth_client.get("/api/v1/users/", headers=bearer(forgeries["alg none"]))
    assert admin_route.status_code == 401


async def test_a_token_signed_with_the_real_key_but_no_session_row_is_refused(auth_client):
    _, user = await admin_and_user(auth_client)
    reissued = jwt.encode(_claims(user), TEST_SECRET, algorithm="HS256")
    # Same claims, same key: identical to the real token, so it is accepted...
    assert reissued == user.token
    assert (await auth_client.get(SESSION_USER, headers=bearer(reissued))).status_code == 200
    # ...but a fresh jti with the real key is not, because no session row backs it.
    minted = jwt.encode(_claims(user, jti="a" * 32), TEST_SECRET, algorithm="HS256")
    assert (await auth_client.get(SESSION_USER, headers=bearer(minted))).status_code == 401
