"""Short-lived shared state in one DynamoDB table: stop flags, rate-limit counters and the like.

Nothing that must survive a restart lives here. Every read checks expiry itself, because DynamoDB's
TTL sweeper deletes expired items late (sometimes days late).
"""

from stratus.ephemeral.store import Entry, EphemeralStore, get_ephemeral_store

__all__ = ["Entry", "EphemeralStore", "get_ephemeral_store"]
