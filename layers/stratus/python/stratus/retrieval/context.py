"""``render_context``: retrieved sources into a prompt, through ``RAG_TEMPLATE``."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from stratus.retrieval.types import Source

CONTEXT = "{{CONTEXT}}"
QUERY = "{{QUERY}}"


def format_sources(sources: Sequence[Source]) -> str:
    """Numbered from 1 in the order given, each tagged with its file name and position.

    Attribute values are escaped, so a file name cannot close the tag and pose as another source.
    """
    return "\n".join(
        f'<source id="{number}" name="{escape(source.name)}" position="{source.position}">\n'
        f"{source.text}\n</source>"
        for number, source in enumerate(sources, start=1)
    )


def render_context(template: str, sources: Sequence[Source], query: str) -> str:
    """The template with ``{{CONTEXT}}`` and ``{{QUERY}}`` (Open WebUI's names) filled in.

    The query is substituted last, so text inside a source that happens to read ``{{QUERY}}``
    stays as written.
    """
    head, marker, tail = template.partition(CONTEXT)
    if not marker:
        return template.replace(QUERY, query)
    return head.replace(QUERY, query) + format_sources(sources) + tail.replace(QUERY, query)
