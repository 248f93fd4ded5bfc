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
  still wins.
"""

from __future__ import annotations

import functools
from typing import Any

from stratus.ephemeral.meta import table_meta
from stratus.settings import AwsSettings, aws_settings

SORT_KEY = "chat-state"


def state_key(user_id: str) -> str:
    return f"chat#user#{user_id}"


def state_model(settings: AwsSettings | None = None, *, retries: int = 2) -> Any:
    """The item's model. Stop polls use ``retries=0``: botocore backs off for seconds between
    retries of a throttled call, while the watcher simply polls again one interval later."""
    return _model_for(settings or aws_settings(), retries)


@functools.cache
def _model_for(resolved: AwsSettings, retries: int) -> Any:
    from pynamodb.attributes import MapAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
    from pynamodb.models import Model

    class ChatUserState(Model):
        Meta = table_meta(resolved, retries=retries)  # type: ignore[assignment]  # per settings

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        expires_at = TTLAttribute()
        day = NumberAttribute(null=True)
        tokens = NumberAttribute(null=True, attr_name="tok")
        generations = MapAttribute[str, Any](null=True, attr_name="g")  # type: ignore[no-untyped-call]
        stops = MapAttribute[str, Any](null=True, attr_name="s")  # type: ignore[no-untyped-call]
        chat_stops = MapAttribute[str, Any](null=True, attr_name="cs")  # type: ignore[no-untyped-call]

    return ChatUserState
