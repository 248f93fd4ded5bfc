"""API keys: several named keys per user (ours), and Open WebUI's single default key.

The full key exists only in the response that creates it; the database keeps its SHA-256 and a
display prefix, so a leaked table cannot be replayed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from functions.auth.keys_store import KeyRow, KeysStore, NewKey
from functions.auth.schemas import ApiKeyForm, ApiKeyInfo, NewApiKey
from stratus.auth import Principal, api_keys
from stratus.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError

MAX_KEYS_PER_USER = 50
DEFAULT_KEY_NAME = "default"


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def key_info(row: KeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.display_prefix,
        is_default=row.is_default,
        created_at=int(row.created_at.timestamp()),
        expires_at=_epoch(row.expires_at),
        last_used_at=_epoch(row.last_used_at),
    )


@dataclass(frozen=True, slots=True)
class KeysService:
    keys: KeysStore
    enabled: bool

    async def create(
        self, principal: Principal, form: ApiKeyForm, *, is_default: bool = False
    ) -> NewApiKey:
        if not self.enabled:
            raise PermissionDeniedError("API keys are disabled on this server.")
        if form.expires_at is not None and form.expires_at <= datetime.now(UTC):
            raise ValidationError("expires_at must be in the future.", param="expires_at")
        key = api_keys.generate()
        row = await self.keys.create(
            NewKey(
                id=str(uuid.uuid4()),
                user_id=principal.user_id,
                name=form.name.strip() or DEFAULT_KEY_NAME,
                display_prefix=api_keys.display_prefix(key),
                key_hash=api_keys.digest(key),
                expires_at=form.expires_at,
                is_default=is_default,
            ),
            max_keys=MAX_KEYS_PER_USER,
        )
        if row is None:
            raise ConflictError(f"A user may hold at most {MAX_KEYS_PER_USER} API keys.")
        return NewApiKey(
            id=row.id,
            name=row.name,
            prefix=row.display_prefix,
            key=key,
            created_at=int(row.created_at.timestamp()),
            expires_at=_epoch(row.expires_at),
        )

    async def list(self, principal: Principal) -> list[ApiKeyInfo]:
        return [key_info(row) for row in await self.keys.list(principal.user_id)]

    async def delete(self, principal: Principal, key_id: str) -> None:
        if not await self.keys.delete(principal.user_id, key_id):
            raise NotFoundError("API key not found.")

    async def create_default(self, principal: Principal) -> str:
        created = await self.create(principal, ApiKeyForm(name=DEFAULT_KEY_NAME), is_default=True)
        return created.key

    async def default(self, principal: Principal) -> ApiKeyInfo:
        row = await self.keys.default(principal.user_id)
        if row is None:
            raise NotFoundError("API key not found.")
        return key_info(row)

    async def delete_default(self, principal: Principal) -> None:
        await self.keys.delete_default(principal.user_id)
