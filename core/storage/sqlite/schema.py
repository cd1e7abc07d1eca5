"""The embedded store's schema, and the migrations that bring an older file up to it."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    display_name TEXT,
    memory_paused INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS identities (
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    user_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, workspace, user_id)
);
CREATE INDEX IF NOT EXISTS identities_account ON identities(account_id);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    conversation TEXT NOT NULL,
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    last_active_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS sessions_one_open ON sessions(conversation) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_open_idle ON sessions(last_active_at) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_conversation ON sessions(conversation);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    author_name TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id, seq);
CREATE INDEX IF NOT EXISTS messages_account ON messages(account_id);
CREATE INDEX IF NOT EXISTS messages_created ON messages(created_at);
CREATE TABLE IF NOT EXISTS processed_events (
    key TEXT PRIMARY KEY,
    processed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_events_at ON processed_events(processed_at);
CREATE TABLE IF NOT EXISTS pending_memory_writes (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    messages TEXT NOT NULL,
    origin TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS pending_due ON pending_memory_writes(next_attempt_at);
CREATE TABLE IF NOT EXISTS link_codes (
    code_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS link_failures (
    identity TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS link_failures_identity ON link_failures(identity, at);
CREATE TABLE IF NOT EXISTS account_merges (
    source TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    source_epoch INTEGER NOT NULL,
    target_epoch INTEGER NOT NULL,
    merged_at TEXT NOT NULL
);
-- Model tokens per account, workspace and UTC day (core.budget). account_id '' holds the tokens
-- of erased accounts, which still count towards their workspace's day.
CREATE TABLE IF NOT EXISTS token_usage (
    day TEXT NOT NULL,
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    account_id TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (day, platform, workspace, account_id)
);
CREATE INDEX IF NOT EXISTS token_usage_account ON token_usage(account_id, day);
"""

# Columns added after the first release, applied to older files in order (PRAGMA user_version
# counts how many ran). A fresh file gets them the same way, so there is one schema, not two.
MIGRATIONS: tuple[str, ...] = (
    # Erasure epochs (see core.erasure): writes begun before an erasure must not land after it.
    "ALTER TABLE accounts ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE pending_memory_writes ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE link_codes ADD COLUMN reserved_by TEXT;"
    "ALTER TABLE link_codes ADD COLUMN reserved_at TEXT;",
    # When an account was last erased (messages received before it are withdrawn, not stored).
    "ALTER TABLE accounts ADD COLUMN erased_at TEXT;",
    # An answer's provenance: the ids of the memories recalled for it (JSON list; NULL for none).
    "ALTER TABLE messages ADD COLUMN memory_ids TEXT;",
    # Ratings of answers (feedback buttons): ids only; erased with the account, merged away with it.
    "CREATE TABLE IF NOT EXISTS answer_feedback ("
    " account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    " answer TEXT NOT NULL, rating TEXT NOT NULL, at TEXT NOT NULL,"
    " PRIMARY KEY (account_id, answer));",
)


def migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")  # two processes opening one old file: one migrates, one waits
    try:
        done = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[done:], start=done + 1):
            for statement in filter(None, (part.strip() for part in script.split(";"))):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
