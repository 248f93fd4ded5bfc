"""The one DynamoDB item per user that chat keeps: limits, running generations and stop flags.

Keeping it all in one item makes a generation cost two writes (start, finish) plus polls,
instead of one write per concern. Layout (short attribute names keep the item small):

- ``t<ms>``: the requests-per-minute sliding window, as ``stratus.limits`` keeps it: one tally
  per sub-window, named after its start;
- ``day``, ``tok``: the UTC day (``YYYYMMDD``) and the tokens used on it;
- ``g``: running generations, ``task_id -> {"c": chat_id, "x": expiry}``: the registry;
- ``s``: stop flags by task, ``task_id -> epoch ms``;
- ``cs``: stop flags by chat, ``chat_id -> epoch ms``; they stop any generation of that chat
  that began before the flag was set, so a stop that arrives before the generation registered
  still wins;
- ``expires_at``: for DynamoDB's TTL sweeper only (two days after the last activity).

The hot path talks to DynamoDB from the event loop through ``stratus.ephemeral.aio`` (aiodynamo
over aiohttp), with fixed expressions: every call is one request and no expression is built
per call. botocore, through a worker thread, cost about four times the CPU per call (measured:
``tests/benchmarks/bench_hotpath.py``); pynamodb's expression layer cost 0.7 ms more on top.
"""

from __future__ import annotations

import functools
from typing import Any

from stratus.ephemeral.aio import AsyncTable
from stratus.lifecycle import Resource
from stratus.settings import AwsSettings, aws_settings

SORT_KEY = "chat-state"


def state_key(user_id: str) -> str:
    return f"chat#user#{user_id}"


def item_key(user_id: str) -> dict[str, Any]:
    return {"pk": {"S": state_key(user_id)}, "sk": {"S": SORT_KEY}}


def state_table(settings: AwsSettings | None = None) -> AsyncTable:
    """The table's async client for these settings (one per distinct settings value)."""
    return _table_for(settings or aws_settings())


@functools.cache
def _table_for(resolved: AwsSettings) -> AsyncTable:
    return AsyncTable(resolved)


async def prepare_state_table() -> None:
    """Built at init: aiodynamo and aiohttp imported, credentials resolved; no connection."""
    state_table().prepare()


async def reset_state_table() -> None:
    await state_table().reset()


STATE_CLIENTS = Resource("chat-state", prepare_state_table, reset_state_table)


def table_name(settings: AwsSettings | None = None) -> str:
    return (settings or aws_settings()).dynamodb_table
