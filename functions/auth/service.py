"""Accounts and sessions: sign-up, sign-in, sign-out, profile and password.

Sign-in and password change reserve a failed attempt on the brute-force counters before they
touch the user row or compute a hash, and keep it unless the password is right; an unknown email
costs the same hash as a wrong password, so neither the answer nor its timing tells whether an
account exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from functions.auth.keys_store import KeysStore
from functions.auth.schemas import (
    AppConfig,
    ConfigFeatures,
    ProfileForm,
    SessionResponse,
    SigninForm,
    SignupForm,
)
from functions.auth.store import NewUser, UserRow, UsersStore
from stratus import __version__
from stratus.auth import Principal, Role
from stratus.auth.limiter import LoginLimiter
from stratus.auth.passwords import Passwords, check_acceptable
from stratus.auth.principal import Via
from stratus.auth.sessions_store import SessionsStore
from stratus.auth.tokens import TokenCodec
from stratus.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from stratus.settings import AuthSettings


def normalise_email(email: str) -> str:
    return email.strip().lower()


def clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValidationError("The name must not be blank.", param="name")
    return cleaned


@dataclass(frozen=True, slots=True)
class AccountService:
    users: UsersStore
    sessions: SessionsStore
    passwords: Passwords
    tokens: TokenCodec
    limiter: LoginLimiter
    settings: AuthSettings
    keys: KeysStore = field(default_factory=KeysStore)

    async def app_config(self) -> AppConfig:
        """What the sign-in page needs: may people sign up, and is this a fresh server whose
        first sign-up creates the administrator (Open WebUI's ``onboarding``)."""
        fresh = not await self.users.admin_claimed()
        return AppConfig(
            status=True,
            name="Stratus",
            version=__version__,
            features=ConfigFeatures(
                auth=True,
                enable_signup=self.settings.enable_signup or fresh,
                enable_login_form=True,
                enable_api_key=self.settings.enable_api_key,
            ),
            onboarding=fresh,
        )

    async def signup(self, form: SignupForm, client_ip: str) -> SessionResponse:
        check_acceptable(form.password)
        # A cheap early refusal; the insert below re-checks it inside its transaction.
        if not self.settings.enable_signup and await self.users.admin_claimed():
            raise PermissionDeniedError("Sign-up is disabled on this server.")
        await self.limiter.check_signup(client_ip)
        new = NewUser(
            id=str(uuid.uuid4()),
            email=normalise_email(form.email),
            name=clean_name(form.name),
            password_hash=await self.passwords.hash(form.password),
        )
        # With sign-up disabled only the very first account (the admin) may still be created,
        # as in Open WebUI: otherwise a fresh install could never get an administrator.
        user = await self.users.create(
            new,
            role=Role(self.settings.default_user_role),
            first_may_claim_admin=True,
            signup_open=self.settings.enable_signup,
        )
        return await self._start_session(user)

    async def signin(self, form: SigninForm, client_ip: str) -> SessionResponse:
        check_acceptable(form.password)
        email = normalise_email(form.email)
        attempt = await self.limiter.reserve(email, client_ip)
        user = await self.users.by_email(email)
        verified = await self.passwords.verify(user.password_hash if user else None, form.password)
        if user is None or not verified:
            raise AuthenticationError("The email or password is incorrect.")
        await self.limiter.succeeded(attempt)
        if self.passwords.needs_rehash(user.password_hash):
            await self.users.set_password_hash(user.id, await self.passwords.hash(form.password))
        return await self._start_session(user)

    async def _start_session(self, user: UserRow) -> SessionResponse:
        token, claims = self.tokens.issue(user.id, user.token_version)
        await self.sessions.create(claims)
        return SessionResponse(
            token=token,
            token_type="Bearer",  # noqa: S106 - the scheme's name, not a secret
            expires_at=claims.expires_at,
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
        )

    async def signout(self, principal: Principal) -> None:
        if principal.via is Via.SESSION:
            await self.sessions.revoke(principal.credential_id)

    async def update_profile(self, principal: Principal, form: ProfileForm) -> UserRow:
        user = await self.users.update(principal.user_id, name=clean_name(form.name))
        if user is None:
            raise NotFoundError("User not found.")
        return user

    async def change_password(
        self, principal: Principal, current: str, new: str, client_ip: str
    ) -> None:
        """Keeps the calling session and ends every other one, and the API keys unless the
        server is set to keep them: a password change is how users answer a suspected leak."""
        check_acceptable(new, "new_password")
        attempt = await self.limiter.reserve(principal.email, client_ip)
        user = await self.users.by_id(principal.user_id)
        if user is None or not await self.passwords.verify(user.password_hash, current):
            raise BadRequestError("The current password is incorrect.", param="password")
        await self.limiter.succeeded(attempt)
        await self.users.set_password_hash(user.id, await self.passwords.hash(new))
        keep = principal.credential_id if principal.via is Via.SESSION else None
        await self.sessions.revoke_others(user.id, keep)
        if not self.settings.keep_api_keys_on_password_change:
            await self.keys.delete_all(user.id)
