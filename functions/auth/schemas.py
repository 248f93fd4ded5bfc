"""Request and response types of the auth function: the API contract.

Request bodies reject unknown fields (422 naming the field), so ``role`` or ``id`` cannot be slipped
into a sign-up or profile update. ``profile_image_url`` is the one extra field accepted, because
Open WebUI's clients send it; it is ignored. Paths and shapes follow Open WebUI's where it has them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from stratus.auth import Role
from stratus.web.text import DisplayName, EmailAddress, SingleLine

# Text rules (stratus.web.text): no control characters anywhere; display names also refuse
# right-to-left overrides. Passwords refuse control characters too, and are otherwise hashed
# exactly as sent.
Name = Annotated[DisplayName, Meta(min_length=1, max_length=100)]
Email = Annotated[EmailAddress, Meta(min_length=3, max_length=254)]
# Characters here; the 1 KiB limit in bytes is checked before hashing (stratus.auth.passwords).
# Emptiness is checked there too, so the answer says "must not be empty", not "length >= 1".
Password = Annotated[SingleLine, Meta(max_length=1024)]
KeyName = Annotated[DisplayName, Meta(min_length=1, max_length=100)]
# Open WebUI's clients send it (often a data: URL, so no length limit beyond the body's); ignored.
ImageUrl = SingleLine


class Form(Struct, forbid_unknown_fields=True):
    """Base for request bodies."""


class SignupForm(Form):
    name: Name
    email: Email
    password: Password
    profile_image_url: ImageUrl | None = None


class SigninForm(Form):
    # Not the sign-up pattern: an account whose address predates a rule must still sign in.
    email: Annotated[SingleLine, Meta(max_length=254)]
    password: Password


class ProfileForm(Form):
    name: Name
    profile_image_url: ImageUrl | None = None


class PasswordForm(Form):
    password: Password
    new_password: Password


class AddUserForm(Form):
    name: Name
    email: Email
    password: Password
    role: Role = Role.PENDING
    profile_image_url: ImageUrl | None = None


class UserUpdateForm(Form):
    """An administrator's change to another account. Omitted fields stay as they are."""

    name: Name | None = None
    email: Email | None = None
    role: Role | None = None
    # Set only when non-empty: Open WebUI's admin screen sends "" to mean "unchanged".
    password: Password | None = None
    profile_image_url: ImageUrl | None = None


class ApiKeyForm(Form):
    name: KeyName
    expires_at: Annotated[datetime, Meta(tz=True)] | None = None


class SessionResponse(Struct, frozen=True):
    token: str
    token_type: Literal["Bearer"]
    expires_at: int
    id: str
    email: str
    name: str
    role: Role


class SessionUser(Struct, frozen=True):
    id: str
    email: str
    name: str
    role: Role


class UserResponse(Struct, frozen=True):
    id: str
    email: str
    name: str
    role: Role
    created_at: int
    updated_at: int


class ListedUserResponse(UserResponse, frozen=True):
    """A user in the administrator's list, with Open WebUI's ``last_active_at``: the latest
    sign-in, API key use or chat message (epoch seconds), null if none yet."""

    last_active_at: int | None


class UserPage(Struct, frozen=True):
    users: list[ListedUserResponse]
    total: int
    page: int
    limit: int


class ApiKeyInfo(Struct, frozen=True):
    """A key as listings show it: never the key itself, only its display prefix."""

    id: str
    name: str
    prefix: str
    is_default: bool
    created_at: int
    expires_at: int | None
    last_used_at: int | None


class NewApiKey(Struct, frozen=True):
    """Returned once, at creation: the only time the full key is ever shown."""

    id: str
    name: str
    prefix: str
    key: str
    created_at: int
    expires_at: int | None


class LegacyApiKey(Struct, frozen=True):
    """Open WebUI's ``POST /api/v1/auths/api_key`` answer."""

    api_key: str


class Status(Struct, frozen=True):
    status: bool


class ConfigFeatures(Struct, frozen=True):
    auth: bool
    enable_signup: bool
    enable_login_form: bool
    enable_api_key: bool


class AppConfig(Struct, frozen=True, omit_defaults=True):
    """Open WebUI's ``GET /api/config`` (the parts this server has): what a client shows before
    anyone signs in. ``onboarding`` is present, and true, only while no account exists yet:
    the first sign-up creates the administrator."""

    status: bool
    name: str
    version: str
    features: ConfigFeatures
    onboarding: bool = False
