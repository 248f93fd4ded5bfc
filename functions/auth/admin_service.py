"""Administration: create, list, change and delete accounts, and end a user's sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import msgspec

from functions.auth.keys_store import KeysStore
from functions.auth.schemas import (
    AddUserForm,
    ListedUserResponse,
    UserPage,
    UserResponse,
    UserUpdateForm,
)
from functions.auth.service import clean_name, normalise_email
from functions.auth.store import ListedUser, NewUser, UserRow, UsersStore
from stratus.auth import Principal
from stratus.auth.deletion import delete_user
from stratus.auth.limiter import LoginLimiter
from stratus.auth.passwords import Passwords, check_acceptable
from stratus.auth.sessions_store import SessionsStore
from stratus.errors import NotFoundError, PermissionDeniedError


def user_response(row: UserRow) -> UserResponse:
    return UserResponse(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        created_at=int(row.created_at.timestamp()),
        updated_at=int(row.updated_at.timestamp()),
    )


def _listed(listed: ListedUser) -> ListedUserResponse:
    active = listed.last_active_at
    return ListedUserResponse(
        **msgspec.structs.asdict(user_response(listed.row)),
        last_active_at=int(active.timestamp()) if active else None,
    )


def _not_found() -> NotFoundError:
    return NotFoundError("User not found.")


@dataclass(frozen=True, slots=True)
class AdminService:
    users: UsersStore
    sessions: SessionsStore
    passwords: Passwords
    limiter: LoginLimiter
    keys: KeysStore = field(default_factory=KeysStore)
    keep_keys_on_password_change: bool = False

    async def add(self, form: AddUserForm) -> UserRow:
        check_acceptable(form.password)
        new = NewUser(
            id=str(uuid.uuid4()),
            email=normalise_email(form.email),
            name=clean_name(form.name),
            password_hash=await self.passwords.hash(form.password),
        )
        return await self.users.create(new, role=form.role, first_may_claim_admin=False)

    async def page(self, page: int, limit: int) -> UserPage:
        rows, total = await self.users.page(offset=(page - 1) * limit, limit=limit)
        return UserPage([_listed(r) for r in rows], total, page, limit)

    async def update(self, admin: Principal, user_id: str, form: UserUpdateForm) -> UserRow:
        # Admins cannot demote themselves: the server must never be left without one by accident.
        if user_id == admin.user_id and form.role is not None and form.role != admin.role:
            raise PermissionDeniedError("Administrators cannot change their own role.")
        password_hash = None
        if form.password:
            check_acceptable(form.password)
            password_hash = await self.passwords.hash(form.password)
        row = await self.users.update(
            user_id,
            name=clean_name(form.name) if form.name is not None else None,
            email=normalise_email(form.email) if form.email is not None else None,
            role=form.role,
            password_hash=password_hash,
        )
        if row is None:
            raise _not_found()
        if password_hash and not self.keep_keys_on_password_change:
            await self.keys.delete_all(user_id)
        return row

    async def delete(self, admin: Principal, user_id: str) -> None:
        if user_id == admin.user_id:
            raise PermissionDeniedError("Administrators cannot delete their own account.")
        if not await delete_user(user_id):
            raise _not_found()

    async def revoke_sessions(self, user_id: str) -> None:
        """Ends every credential, API keys included: this is the response to a compromise."""
        # Keys first: if the second step fails, the admin retries, and no key outlives the try.
        await self.keys.delete_all(user_id)
        if not await self.sessions.revoke_all(user_id):
            raise _not_found()

    async def unlock(self, user_id: str) -> None:
        """Clear the account's failed sign-ins from every address, so its owner can sign in."""
        user = await self.users.by_id(user_id)
        if user is None:
            raise _not_found()
        await self.limiter.unlock(user.email)
