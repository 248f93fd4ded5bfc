"""Static configuration of one emulator instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from local.emulator.faults import Faults

DEFAULT_CHAT_MODEL = "emulator-chat:latest"
DEFAULT_THINK_MODEL = "emulator-think:latest"
DEFAULT_EMBED_MODEL = "emulator-embed:latest"
# The rag function's default embedding model, at its real size.
NOMIC_EMBED_MODEL = "nomic-embed-text:latest"
NOMIC_DIMENSIONS = 768
DEFAULT_PORT = 11434  # Ollama's own port, so clients need no extra configuration.


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    chat_models: tuple[str, ...] = (DEFAULT_CHAT_MODEL,)
    # Chat models that stream `thinking` when asked to.
    thinking_models: tuple[str, ...] = (DEFAULT_THINK_MODEL,)
    embed_models: tuple[str, ...] = (DEFAULT_EMBED_MODEL, NOMIC_EMBED_MODEL)
    # Embedding sizes other than the default 384, as (model, dimensions) pairs.
    embed_dimensions: tuple[tuple[str, int], ...] = ((NOMIC_EMBED_MODEL, NOMIC_DIMENSIONS),)
    # The baseline faults; `/_emulator/reset` returns to these.
    faults: Faults = field(default_factory=Faults)
    # A stalled stream gives up (drops the connection) after this long at most.
    stall_max_seconds: float = 120.0
    # How many recent requests (and request bodies per route) the stats keep.
    history_limit: int = 50
    version: str = "0.12.0"
    # A real embedding model (all-MiniLM-L6-v2, 384 dimensions) served under this name, for
    # measuring retrieval quality; needs the bench-embed extra (local/emulator/minilm.py).
    minilm_model: str | None = None
    # Where its vectors are cached (a SQLite file), so a second run skips the model.
    embed_cache: str | None = None

    def __post_init__(self) -> None:
        if self.stall_max_seconds <= 0:
            raise ValueError("stall_max_seconds must be positive")
        if self.history_limit < 1:
            raise ValueError("history_limit must be at least 1")
        if any(size < 1 for _, size in self.embed_dimensions):
            raise ValueError("embedding dimensions must be at least 1")
