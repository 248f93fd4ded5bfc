"""The models every configured upstream serves, cached briefly per process, with the allow-list.

A model name from a client is only ever looked up here: it can never add a host (matrix row 22).
An upstream that cannot be reached (asleep, waking or down) is listed with the models it last
answered with (``known_models``, in Postgres), marked unreachable: a request for one of them is
held while the host wakes or answered 503, never 404. An upstream that answers with an error
(refusing our key, say) drops out of the list; the list itself doesn't fail. A name that is
missing triggers at most one refresh per ``_MISS_REFRESH_SECONDS``, so a flood of made-up names
cannot turn into a flood of upstream calls.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stratus.auth.principal import Principal
from stratus.errors import ModelHostUnavailableError, ModelNotFoundError, StratusError
from stratus.modelhost import ollama, openai_compat
from stratus.modelhost.http import UpstreamHTTP
from stratus.modelhost.known_models import KnownModels
from stratus.modelhost.upstreams import Upstream
from stratus.observability import get_logger
from stratus.settings import ChatSettings

_MISS_REFRESH_SECONDS = 2.0
# Listing the models must not hang a request on one slow host.
_LIST_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class CatalogModel:
    id: str
    owned_by: str
    created: int
    upstreams: tuple[Upstream, ...]
    # Ollama's /api/tags entry (size, digest, details); empty for OpenAI-compatible models.
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    # False when listed from the upstream's last known list: it did not answer this time.
    reachable: bool = field(default=True, compare=False)

    @property
    def kind(self) -> str:
        return self.upstreams[0].kind


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """A resolved model and the upstream this request goes to."""

    model: CatalogModel
    upstream: Upstream


def allowed(model_id: str, principal: Principal, patterns: Sequence[str]) -> bool:
    """Admins see every model; users see the ``STRATUS_USER_MODELS`` patterns (all if unset)."""
    if principal.is_admin or not patterns:
        return True
    bare = model_id.removesuffix(":latest")
    return any(fnmatch.fnmatchcase(model_id, p) or fnmatch.fnmatchcase(bare, p) for p in patterns)


class ModelCatalog:
    def __init__(
        self,
        upstreams: Sequence[Upstream],
        settings: ChatSettings,
        clock: Callable[[], float] = time.monotonic,
        waking: Callable[[Upstream], bool] = lambda upstream: False,
    ) -> None:
        self._upstreams = tuple(upstreams)
        # A host known to be waking (scale-to-zero) is not asked: its last list is used.
        self._waking = waking
        self._settings = settings
        self._clock = clock
        self._models: dict[str, CatalogModel] = {}
        self._fetched_at = float("-inf")
        self._turn = 0
        self.known = KnownModels()

    async def models(self, http: UpstreamHTTP, *, refresh: bool = False) -> list[CatalogModel]:
        fresh = self._clock() - self._fetched_at < self._settings.models_cache_seconds
        if refresh or not fresh:
            await self._refresh(http)
        return list(self._models.values())

    def visible(self, models: Sequence[CatalogModel], principal: Principal) -> list[CatalogModel]:
        patterns = self._settings.user_models
        return [m for m in models if allowed(m.id, principal, patterns)]

    async def resolve(self, http: UpstreamHTTP, name: str, principal: Principal) -> ModelChoice:
        """The model a client named, if it exists and the caller may use it; else 404."""
        await self.models(http)
        model = self._lookup(name)
        if model is None and self._clock() - self._fetched_at > _MISS_REFRESH_SECONDS:
            await self._refresh(http)
            model = self._lookup(name)
        if model is None or not allowed(model.id, principal, self._settings.user_models):
            # Not allowed reads exactly like missing: the list of models is not a secret
            # worth guarding, but the answer should not depend on it.
            raise ModelNotFoundError(f"The model '{name}' does not exist.", param="model")
        # Round-robin across hosts serving the same model.
        self._turn += 1
        return ModelChoice(model, model.upstreams[self._turn % len(model.upstreams)])

    def _lookup(self, name: str) -> CatalogModel | None:
        model = self._models.get(name)
        if model is None and ":" not in name:
            model = self._models.get(f"{name}:latest")
        return model

    async def _refresh(self, http: UpstreamHTTP) -> None:
        results = await asyncio.gather(
            *(self._list(http, upstream) for upstream in self._upstreams)
        )
        merged: dict[str, CatalogModel] = {}
        for found in results:
            for model in found:
                merged[model.id] = _merge(merged.get(model.id), model)
        self._models = merged
        self._fetched_at = self._clock()

    async def _list(self, http: UpstreamHTTP, upstream: Upstream) -> list[CatalogModel]:
        build = _from_ollama if upstream.kind == "ollama" else _from_openai
        try:
            if self._waking(upstream):
                raise ModelHostUnavailableError("The model host is waking.")
            async with asyncio.timeout(_LIST_TIMEOUT):
                if upstream.kind == "ollama":
                    entries = [_trim(e, _OLLAMA_FIELDS) for e in await ollama.tags(http, upstream)]
                else:
                    found = await openai_compat.models(http, upstream)
                    entries = [_trim(e, _OPENAI_FIELDS) for e in found]
        except (ModelHostUnavailableError, TimeoutError):
            # Unreachable is not "has no models": list what it served last time.
            remembered = await self.known.recall(upstream)
            get_logger().warning(
                "model upstream unreachable; listing its last known models",
                extra={
                    "upstream": upstream.variable,
                    "index": upstream.index,
                    "models": len(remembered),
                },
            )
            key = "name" if upstream.kind == "ollama" else "id"
            return [
                build(entry, upstream, reachable=False)
                for entry in remembered
                if isinstance(entry.get(key), str)
            ]
        except StratusError:
            get_logger().warning(
                "model upstream left out of the model list",
                extra={"upstream": upstream.variable, "index": upstream.index},
            )
            return []
        await self.known.remember(upstream, entries)
        return [build(entry, upstream) for entry in entries]


_OLLAMA_FIELDS = ("name", "size", "digest", "details", "modified_at")
_OPENAI_FIELDS = ("id", "created", "owned_by")


def _trim(entry: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Only what the catalog reads: that is all a model list keeps, in memory or in Postgres."""
    return {k: entry[k] for k in fields if k in entry}


def _merge(known: CatalogModel | None, model: CatalogModel) -> CatalogModel:
    """One model served by several Ollama hosts: requests go round-robin over the reachable
    ones; a host that did not answer serves it only while no other does."""
    if known is None:
        return model
    if not (known.kind == model.kind == "ollama") or (known.reachable and not model.reachable):
        return known
    if model.reachable and not known.reachable:
        return model
    return CatalogModel(
        known.id,
        known.owned_by,
        known.created,
        known.upstreams + model.upstreams,
        known.details,
        known.reachable,
    )


def _from_ollama(
    entry: dict[str, Any], upstream: Upstream, *, reachable: bool = True
) -> CatalogModel:
    details = {k: v for k, v in entry.items() if k != "name"}
    return CatalogModel(
        str(entry["name"]),
        "ollama",
        _epoch(entry.get("modified_at")),
        (upstream,),
        details,
        reachable,
    )


def _from_openai(
    entry: dict[str, Any], upstream: Upstream, *, reachable: bool = True
) -> CatalogModel:
    created = entry.get("created")
    owned_by = entry.get("owned_by")
    return CatalogModel(
        str(entry["id"]),
        owned_by if isinstance(owned_by, str) and owned_by else "openai",
        created if isinstance(created, int) else 0,
        (upstream,),
        reachable=reachable,
    )


def _epoch(value: Any) -> int:
    from datetime import datetime

    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return 0
    return 0


def option_for(model_id: str, pairs: Sequence[tuple[str, str]]) -> str | None:
    """The first per-model setting (``STRATUS_MODEL_NUM_CTX`` etc.) whose pattern matches."""
    bare = model_id.removesuffix(":latest")
    for pattern, value in pairs:
        if fnmatch.fnmatchcase(model_id, pattern) or fnmatch.fnmatchcase(bare, pattern):
            return value
    return None
