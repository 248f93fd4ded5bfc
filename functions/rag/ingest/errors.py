"""Why an ingestion stopped. ``permanent`` failures mark the file failed for good; the others
(the model host or the database away) may succeed on a later attempt."""

from __future__ import annotations


class IngestError(Exception):
    permanent = True

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExtractionError(IngestError):
    """The content could not be turned into text, or its extraction broke its budget."""


class TransientIngestError(IngestError):
    permanent = False
