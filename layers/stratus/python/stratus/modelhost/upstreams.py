"""The configured model upstreams: Ollama hosts and OpenAI-compatible APIs.

Only these are ever contacted. Nothing a client sends can add a host: model names are looked up
in the catalog built from these upstreams, and redirects are not followed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from stratus.settings import ModelHostSettings

Kind = Literal["ollama", "openai"]


@dataclass(frozen=True, slots=True)
class Upstream:
    kind: Kind
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    # Position within its kind's list, as in OLLAMA_BASE_URLS / OPENAI_API_BASE_URLS.
    index: int = 0

    @property
    def variable(self) -> str:
        """The setting that names this upstream: what an operator should check."""
        return "OLLAMA_BASE_URL" if self.kind == "ollama" else "OPENAI_API_BASE_URL"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def configured_upstreams(settings: ModelHostSettings) -> tuple[Upstream, ...]:
    from stratus.runtime_secrets import ollama_api_key

    ollama: list[Upstream] = []
    if settings.enable_ollama_api:
        key = ollama_api_key(settings)
        ollama = [
            Upstream("ollama", url, key, i) for i, url in enumerate(settings.ollama_base_urls)
        ]
    openai: list[Upstream] = []
    if settings.enable_openai_api:
        keys = settings.openai_api_keys
        for i, url in enumerate(settings.openai_api_base_urls):
            # One key for all, or one per URL (checked when settings load).
            key = keys[i] if len(keys) > 1 else (keys[0] if keys else None)
            openai.append(Upstream("openai", url, key, i))
    return (*ollama, *openai)
