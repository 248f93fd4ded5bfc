"""Schema rules the single deletion path relies on, checked against the migrated database."""

from __future__ import annotations

import psycopg

FOREIGN_KEYS_TO_USERS = """
SELECT tc.table_name, rc.delete_rule
FROM information_schema.referential_constraints rc
JOIN information_schema.table_constraints tc ON tc.constraint_name = rc.constraint_name
JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = rc.constraint_name
WHERE ccu.table_name = 'users' AND tc.table_schema = 'public'
"""

USER_ID_COLUMNS = """
SELECT c.table_name FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = 'public' AND c.column_name = 'user_id' AND t.table_type = 'BASE TABLE'
"""


def test_every_reference_to_users_cascades_on_delete(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        rules = conn.execute(FOREIGN_KEYS_TO_USERS).fetchall()
    tables = {table for table, _ in rules}
    assert {"sessions", "api_keys", "chats", "messages", "files", "knowledge", "chunks"} <= tables
    assert all(rule == "CASCADE" for _, rule in rules), rules


def test_every_user_id_column_references_users(postgres_url):
    # A table that stores user_id without the foreign key would survive the user's deletion.
    with psycopg.connect(postgres_url) as conn:
        owners = {row[0] for row in conn.execute(USER_ID_COLUMNS)}
        referencing = {row[0] for row in conn.execute(FOREIGN_KEYS_TO_USERS)}
    assert owners
    assert owners <= referencing, owners - referencing


def test_emails_are_unique_and_stored_lower_case(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes "
            "WHERE tablename = 'users' AND indexname = 'users_email_key'"
        ).fetchone()
        check = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'users'::regclass AND contype = 'c' "
            "AND pg_get_constraintdef(oid) LIKE '%%email%%'"
        ).fetchone()
    assert indexes is not None
    assert "UNIQUE" in indexes[0]
    assert check is not None
    assert "lower(email)" in check[0]
