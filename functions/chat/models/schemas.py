"""The model lists: OpenAI's ``/v1/models`` and Open WebUI's ``/api/models``."""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct


class OpenAIModel(Struct, frozen=True):
    id: str
    created: int
    owned_by: str
    object: Literal["model"] = "model"


class OpenAIModelList(Struct, frozen=True):
    data: list[OpenAIModel]
    object: Literal["list"] = "list"


class WebUIModel(Struct, frozen=True, omit_defaults=True):
    """Open WebUI's model entry: ``ollama`` carries the host's own tag entry for local models."""

    id: str
    name: str
    created: int
    owned_by: str
    connection_type: Literal["local", "external"]
    object: Literal["model"] = "model"
    ollama: dict[str, Any] | None = None


class WebUIModelList(Struct, frozen=True):
    data: list[WebUIModel]
