"""Thin controllers: parse, call one service method, return a schema. Each declares its policy."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from functions.auth.admin_service import AdminService, user_response
from functions.auth.keys_service import KeysService
from functions.auth.schemas import (
    AddUserForm,
    ApiKeyForm,
    ApiKeyInfo,
    AppConfig,
    LegacyApiKey,
    NewApiKey,
    PasswordForm,
    ProfileForm,
    SessionResponse,
    SessionUser,
    SigninForm,
    SignupForm,
    Status,
    UserPage,
    UserResponse,
    UserUpdateForm,
)
from functions.auth.service import AccountService
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access
from stratus.web.text import PathId

PUBLIC = access(Access.PUBLIC)
USER = access(Access.USER)
# The two routes a pending account may call. Sign-out ends a session, so it needs one.
ANY_ACCOUNT = access(Access.USER, allow_pending=True)
SIGNOUT = access(Access.USER, allow_pending=True, session_only=True)
USER_SESSION = access(Access.USER, session_only=True)
OWNER_SESSION = access(Access.OWNER, session_only=True)
ADMIN = access(Access.ADMIN)


class AuthsController(Controller):
    """Open WebUI's ``/api/v1/auths``. Its routes answer 200, as Open WebUI's do."""

    path = "/api/v1/auths"
    tags = ["auth"]

    @post("/signup", opt={**PUBLIC, **may_answer(403, 409, 429, 503)}, status_code=200)
    async def signup(
        self,
        data: JSONBody[SignupForm],
        accounts: NamedDependency[AccountService],
        client_ip: NamedDependency[str],
    ) -> SessionResponse:
        return await accounts.signup(data, client_ip)

    @post("/signin", opt={**PUBLIC, **may_answer(401, 429, 503)}, status_code=200)
    async def signin(
        self,
        data: JSONBody[SigninForm],
        accounts: NamedDependency[AccountService],
        client_ip: NamedDependency[str],
    ) -> SessionResponse:
        return await accounts.signin(data, client_ip)

    @post("/signout", opt=SIGNOUT, status_code=200)
    async def signout(
        self, principal: NamedDependency[Principal], accounts: NamedDependency[AccountService]
    ) -> Status:
        await accounts.signout(principal)
        return Status(True)

    @get("/", opt=ANY_ACCOUNT)
    async def session_user(self, principal: NamedDependency[Principal]) -> SessionUser:
        return SessionUser(principal.user_id, principal.email, principal.name, principal.role)

    @post("/update/profile", opt=USER, status_code=200)
    async def update_profile(
        self,
        data: JSONBody[ProfileForm],
        principal: NamedDependency[Principal],
        accounts: NamedDependency[AccountService],
    ) -> UserResponse:
        return user_response(await accounts.update_profile(principal, data))

    @post("/update/password", opt={**USER_SESSION, **may_answer(429)}, status_code=200)
    async def update_password(
        self,
        data: JSONBody[PasswordForm],
        principal: NamedDependency[Principal],
        accounts: NamedDependency[AccountService],
        client_ip: NamedDependency[str],
    ) -> bool:
        await accounts.change_password(principal, data.password, data.new_password, client_ip)
        return True

    @get("/api_key", opt={**USER, **may_answer(404)})
    async def get_api_key(
        self, principal: NamedDependency[Principal], keys: NamedDependency[KeysService]
    ) -> ApiKeyInfo:
        return await keys.default(principal)

    @post("/api_key", opt={**USER_SESSION, **may_answer(409)}, status_code=200)
    async def create_api_key(
        self, principal: NamedDependency[Principal], keys: NamedDependency[KeysService]
    ) -> LegacyApiKey:
        return LegacyApiKey(await keys.create_default(principal))

    @delete("/api_key", opt=USER_SESSION, status_code=200)
    async def delete_api_key(
        self, principal: NamedDependency[Principal], keys: NamedDependency[KeysService]
    ) -> bool:
        await keys.delete_default(principal)
        return True

    @get("/api_keys", opt=USER)
    async def list_api_keys(
        self, principal: NamedDependency[Principal], keys: NamedDependency[KeysService]
    ) -> list[ApiKeyInfo]:
        return await keys.list(principal)

    @post("/api_keys", opt={**USER_SESSION, **may_answer(409)})
    async def create_named_api_key(
        self,
        data: JSONBody[ApiKeyForm],
        principal: NamedDependency[Principal],
        keys: NamedDependency[KeysService],
    ) -> NewApiKey:
        return await keys.create(principal, data)

    @delete("/api_keys/{key_id:str}", opt=OWNER_SESSION, status_code=200)
    async def delete_named_api_key(
        self,
        key_id: PathId,
        principal: NamedDependency[Principal],
        keys: NamedDependency[KeysService],
    ) -> Status:
        await keys.delete(principal, key_id)
        return Status(True)

    @post("/add", opt={**ADMIN, **may_answer(409)}, status_code=200)
    async def add_user(
        self, data: JSONBody[AddUserForm], admin: NamedDependency[AdminService]
    ) -> UserResponse:
        return user_response(await admin.add(data))


class ConfigController(Controller):
    """Open WebUI's ``GET /api/config``: public, what a client shows before sign-in."""

    path = "/api/config"
    tags = ["auth"]

    @get("/", opt=PUBLIC)
    async def app_config(self, accounts: NamedDependency[AccountService]) -> AppConfig:
        return await accounts.app_config()


class UsersController(Controller):
    """Open WebUI's ``/api/v1/users``: administrators only."""

    path = "/api/v1/users"
    tags = ["users"]
    # A handler added here without its own policy is still admin-only.
    opt = ADMIN

    @get("/", opt=ADMIN)
    async def list_users(
        self,
        admin: NamedDependency[AdminService],
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 30,
    ) -> UserPage:
        return await admin.page(page, limit)

    @post("/{user_id:str}/update", opt={**ADMIN, **may_answer(409)}, status_code=200)
    async def update_user(
        self,
        user_id: PathId,
        data: JSONBody[UserUpdateForm],
        principal: NamedDependency[Principal],
        admin: NamedDependency[AdminService],
    ) -> UserResponse:
        return user_response(await admin.update(principal, user_id, data))

    @delete("/{user_id:str}", opt={**ADMIN, **may_answer(409)}, status_code=200)
    async def delete_user(
        self,
        user_id: PathId,
        principal: NamedDependency[Principal],
        admin: NamedDependency[AdminService],
    ) -> bool:
        await admin.delete(principal, user_id)
        return True

    @post("/{user_id:str}/sessions/revoke", opt=ADMIN, status_code=200)
    async def revoke_sessions(
        self, user_id: PathId, admin: NamedDependency[AdminService]
    ) -> Status:
        await admin.revoke_sessions(user_id)
        return Status(True)

    @post("/{user_id:str}/unlock", opt={**ADMIN, **may_answer(503)}, status_code=200)
    async def unlock(self, user_id: PathId, admin: NamedDependency[AdminService]) -> Status:
        await admin.unlock(user_id)
        return Status(True)
