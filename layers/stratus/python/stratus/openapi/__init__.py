"""The API's OpenAPI document: one file for the whole API, served the same everywhere.

Functions never import each other, yet in AWS one of them (chat) answers ``/docs`` for the whole
API. So the document is generated from the composed app (``local.composed``, the route table the
local stack serves) by ``make spec``, committed next to this module, and every function serves
that file unchanged, in every mode. A test fails when the committed file is stale.

Routes add error codes the document cannot derive from their policy with ``may_answer``:
``@post("/x", opt={**access(Access.USER), **may_answer(409)})``.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from typing import Any

DOCUMENT_NAME = "openapi.json"
ERRORS_KEY = "openapi_errors"


def may_answer(*statuses: int) -> dict[str, Any]:
    """Route ``opt`` documenting error statuses a route's service may answer (409, 429...)."""
    return {ERRORS_KEY: tuple(sorted(set(statuses)))}


def document_path() -> Path:
    return Path(__file__).with_name(DOCUMENT_NAME)


@functools.cache
def document_bytes() -> bytes:
    """The committed document, read once per process on first use."""
    return (files(__package__) / DOCUMENT_NAME).read_bytes()
