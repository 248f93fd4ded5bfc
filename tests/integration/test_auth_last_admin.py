"""Two admins demoting or deleting each other at the same moment still leave one admin.

Requests go to a real server (``tests.support.live_server``) at once, round after round, so their
transactions overlap in Postgres. A check-then-act version (count the admins, then change the
row) lets both through and leaves none; see the report that introduced this test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import psycopg
import pytest

from functions.auth.store import UsersStore
from local.composed import create_local_app
from stratus.auth import Role
from stratus.auth.deletion import delete_user
from stratus.auth.last_admin import LAST_ADMIN
from stratus.errors import ConflictError
from tests.support.auth import Account, apply_env, signup
from tests.support.live_server import live_server

pytestmark = pytest.mark.anyio

USERS = "/api/v1/users"
ROUNDS = 8

Action = Callable[[httpx.AsyncClient, Account, Account], Awaitable[httpx.Response]]


async def demote(client: httpx.AsyncClient, actor: Account, target: Account) -> httpx.Response:
    return await client.post(
        f"{USERS}/{target.id}/update", json={"role": "user"}, headers=actor.headers
    )


async def delete(client: httpx.AsyncClient, actor: Account, target: Account) -> httpx.Response:
    return await client.delete(f"{USERS}/{target.id}", headers=actor.headers)


async def promote(client: httpx.AsyncClient, admin: Account) -> Account:
    newcomer = await signup(client)
    response = await client.post(
        f"{USERS}/{newcomer.id}/update", json={"role": "admin"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return Account(newcomer.id, newcomer.email, newcomer.password, newcomer.token, "admin")


def admins(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id FROM users WHERE role = 'admin'").fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    ("first", "second"),
    [(demote, demote), (delete, delete), (demote, delete)],
    ids=["demote-demote", "delete-delete", "demote-delete"],
)
async def test_two_admins_removing_each_other_at_once_leave_one(auth_env, first, second):
    apply_env({"DATABASE_POOL_SIZE": "10"})
    with live_server(create_local_app()) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            survivor = await signup(client)
            assert survivor.role == "admin"
            for _ in range(ROUNDS):
                other = await promote(client, survivor)
                responses = await asyncio.gather(
                    first(client, survivor, other), second(client, other, survivor)
                )
                left = admins(auth_env["DATABASE_URL"])
                assert len(left) == 1, [r.text for r in responses]
                statuses = sorted(r.status_code for r in responses)
                # One wins. The other is refused as the last admin, or, if the winner committed
                # before its request got past the guard, as no longer an admin (403) or no
                # longer an account (401).
                assert statuses[0] == 200
                assert statuses[1] in {401, 403, 409}, [r.text for r in responses]
                for response in responses:
                    if response.status_code == 409:
                        assert response.json() == {"detail": LAST_ADMIN}
                survivor = survivor if left == [survivor.id] else other


async def test_the_store_and_the_deletion_path_refuse_to_remove_the_last_admin(auth_client):
    # The services already stop an admin acting on itself; the rule holds below them too.
    admin = await signup(auth_client)
    with pytest.raises(ConflictError, match="last administrator"):
        await UsersStore().update(admin.id, role=Role.USER)
    with pytest.raises(ConflictError, match="last administrator"):
        await delete_user(admin.id)
    other = await signup(auth_client)
    assert await UsersStore().update(other.id, role=Role.ADMIN) is not None
    demoted = await UsersStore().update(admin.id, role=Role.USER)
    assert demoted is not None
    assert demoted.role is Role.USER
