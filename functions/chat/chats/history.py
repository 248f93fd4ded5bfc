"""The message tree of a chat: children, the current leaf and the current branch. Pure.

Messages form a tree through ``parent_id``: a regenerated answer or an edited question is a
sibling branch. The **current leaf** is the newest message without children (ties broken by
id), the rule ``begin_turn`` uses to attach a new turn, so the branch a client sees is the
one its next message continues. The **current branch** runs from the root to that leaf.
"""

from __future__ import annotations

from collections.abc import Sequence

from functions.chat.chats.records import Message


def children_of(messages: Sequence[Message]) -> dict[str, list[str]]:
    """Each message's children, in the order given (oldest first)."""
    children: dict[str, list[str]] = {m.id: [] for m in messages}
    for message in messages:
        if message.parent_id is not None and message.parent_id in children:
            children[message.parent_id].append(message.id)
    return children


def current_leaf(messages: Sequence[Message], children: dict[str, list[str]]) -> Message | None:
    leaves = [m for m in messages if not children.get(m.id)]
    return max(leaves, key=lambda m: (m.created_at, m.id), default=None)


def branch_to(leaf: Message | None, messages: Sequence[Message]) -> list[Message]:
    """Root first. Stops at a missing parent or a cycle rather than looping."""
    by_id = {m.id: m for m in messages}
    path: list[Message] = []
    seen: set[str] = set()
    node = leaf
    while node is not None and node.id not in seen:
        seen.add(node.id)
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    path.reverse()
    return path
