"""Postgres access through psycopg 3: one async pool per process, sized for Lambda or local use."""

from stratus.db.pool import autocommit, close_pool, connection, get_pool, prepare_pool

__all__ = ["autocommit", "close_pool", "connection", "get_pool", "prepare_pool"]
