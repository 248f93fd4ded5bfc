"""Mutable runtime state of one emulator: current faults, loaded models, stats."""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.emulator.catalog import ModelCatalog, ModelEntry
from local.emulator.config import EmulatorConfig
from local.emulator.content import embed_text
from local.emulator.faults import Faults, parse_fault_header
from local.emulator.stats import EmulatorStats

if TYPE_CHECKING:
    from local.emulator.minilm import CachedEmbedder

DEFAULT_KEEP_ALIVE = timedelta(minutes=5)
# all-MiniLM-L6-v2's vector size (local/emulator/minilm.py).
MINILM_DIMENSIONS = 384
# What Ollama reports for a model pinned with a negative keep_alive.
_FOREVER = datetime(2318, 1, 1, tzinfo=UTC)


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        minilm = (config.minilm_model,) if config.minilm_model else ()
        self.catalog = ModelCatalog(
            config.chat_models,
            (*config.embed_models, *minilm),
            config.thinking_models,
            {**dict(config.embed_dimensions), **dict.fromkeys(minilm, MINILM_DIMENSIONS)},
        )
        self._minilm = self.catalog.resolve(config.minilm_model or "")
        self._real: CachedEmbedder | None = None
        self.stats = EmulatorStats(config.history_limit)
        # Set (from any thread) when the server is shutting down, so stalls and delays end.
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._faults = config.faults
        self._loaded: dict[str, datetime] = {}
        self._blobs: set[str] = set()
        self._ids = itertools.count(1)

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def update_faults(self, changes: Mapping[str, Any]) -> Faults:
        """Merge `changes` into the current faults (None clears a key); raises ValueError."""
        with self._lock:
            self._faults = self._faults.with_changes(changes)
            return self._faults

    def effective_faults(self, header: str | None) -> Faults:
        """Current faults overridden, for one request, by an `x-emulator-fault` header."""
        faults = self.faults
        return faults.with_changes(parse_fault_header(header)) if header else faults

    def reset(self) -> None:
        """Back to the configured faults, with empty stats and nothing loaded."""
        with self._lock:
            self._faults = self.config.faults
            self._loaded.clear()
            self._blobs.clear()
        self.stats.clear()

    async def embed(self, entry: ModelEntry, texts: list[str], size: int) -> list[list[float]]:
        """Vectors for ``texts``: the real model's for the MiniLM model, else the stand-in's."""
        if entry != self._minilm:
            return [embed_text(text, size, model_dimensions=entry.dimensions) for text in texts]
        if self._real is None:
            from local.emulator.minilm import CachedEmbedder, VectorCache

            cache = self.config.embed_cache
            self._real = CachedEmbedder(VectorCache(Path(cache)) if cache else None)
        vectors = await asyncio.to_thread(self._real.embed, texts)
        if size < entry.dimensions:  # Ollama's `dimensions`: truncate, then normalise again
            vectors = [_unit(v[:size]) for v in vectors]
        return vectors

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def mark_loaded(self, model: ModelEntry, keep_alive: timedelta | None) -> None:
        """Record a model as loaded; a zero keep_alive unloads it, a negative one pins it."""
        with self._lock:
            if keep_alive is None:
                keep_alive = DEFAULT_KEEP_ALIVE
            if keep_alive == timedelta(0):
                self._loaded.pop(model.name, None)
            elif keep_alive < timedelta(0):
                self._loaded[model.name] = _FOREVER
            else:
                self._loaded[model.name] = datetime.now(UTC) + keep_alive

    def loaded_models(self) -> list[tuple[ModelEntry, datetime]]:
        now = datetime.now(UTC)
        with self._lock:
            for name in [n for n, expiry in self._loaded.items() if expiry <= now]:
                del self._loaded[name]
            loaded = list(self._loaded.items())
        return [
            (entry, expiry)
            for name, expiry in loaded
            if (entry := self.catalog.resolve(name)) is not None
        ]

    def is_loaded(self, model: ModelEntry) -> bool:
        return any(entry.name == model.name for entry, _ in self.loaded_models())

    def add_blob(self, digest: str) -> None:
        with self._lock:
            self._blobs.add(digest)

    def has_blob(self, digest: str) -> bool:
        with self._lock:
            return digest in self._blobs


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]
