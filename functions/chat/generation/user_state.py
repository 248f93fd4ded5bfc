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

The hot path talks to DynamoDB through the botocore client that pynamodb builds for the table
(its timeouts, retries and endpoint), with fixed expressions: every call is one request and
no expression is built per call. pynamodb's own expression layer cost about 0.7 ms of CPU per
call on top of botocore's, in a budget of about 10 ms per streamed answer.
"""

from __future__ import annotations

import functools
from typing import Any

from stratus.ephemeral.clients import build_client, drop_client
from stratus.ephemeral.table import ephemeral_model
from stratus.lifecycle import Resource
from stratus.settings import AwsSettings, aws_settings

SORT_KEY = "chat-state"


def state_key(user_id: str) -> str:
    return f"chat#user#{user_id}"


def item_key(user_id: str) -> dict[str, Any]:
    return {"pk": {"S": state_key(user_id)}, "sk": {"S": SORT_KEY}}


def state_client(settings: AwsSettings | None = None, *, retries: int = 2) -> Any:
    """The table's botocore client. Stop polls use ``retries=0``: botocore backs off for
    seconds between retries of a throttled call, while the watcher simply polls again one
    interval later."""
    return build_client(_model_for(settings or aws_settings(), retries))


@functools.cache
def _model_for(resolved: AwsSettings, retries: int) -> Any:
    from stratus.ephemeral.meta import table_meta

    base = ephemeral_model(resolved)

    # A model per retry policy: pynamodb keeps one connection (one botocore client) per class.
    class ChatState(base):  # type: ignore[valid-type, misc]
        Meta = table_meta(resolved, retries=retries)
        # Its own connection: inherited, the base model's (its retry policy) would be reused.
        _connection = None

    return ChatState


async def prepare_state_clients() -> None:
    """Both clients, built at init (``stratus.ephemeral.clients``): no connection yet."""
    for retries in (2, 0):
        state_client(retries=retries)


async def reset_state_clients() -> None:
    for retries in (2, 0):
        drop_client(_model_for(aws_settings(), retries))


STATE_CLIENTS = Resource("chat-state", prepare_state_clients, reset_state_clients)


def table_name(settings: AwsSettings | None = None) -> str:
    return (settings or aws_settings()).dynamodb_table
