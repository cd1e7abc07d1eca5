"""The scheduled purge of the memory tables (core.jobs' purge-memory-vectors job).

Forgetting and erasing delete rows at once (gone from every query) and record when they did in
`mnemo.memory_vectors_purge`; the deleted text stays in the table's pages until something rewrites
them (DELETE and plain VACUUM only mark the space reusable). This rewrites the text table
(mnemo.memory_texts: payloads and keyword tsvectors, b-tree and GIN indexes) into new files with
VACUUM (FULL), when rows were deleted or replaced since the last rewrite: at most once per run of the
job (VECTOR_PURGE_INTERVAL_MINUTES), whichever process runs it, instead of after every forget.

The vector table (mnemo.memory_vectors: numbers and ids, no words) gets a plain VACUUM: it removes
deleted rows and their HNSW index entries without an exclusive lock, so recalls go on meanwhile.
VACUUM FULL there would rebuild the HNSW index with every recall waiting (55 s at 100,000 rows).
What that leaves: a deleted memory's vector (numbers) in the vector table's free space and index
pages until new rows reuse them. Recalls wait only for the text table's rewrite, which reads small
rows (bench/recall_scaling_postgres.py measures both).

VACUUM FULL keeps row versions that an open transaction's snapshot can still see: a long-open
transaction on the database delays the purge of rows it could see to a later run (the job records
the rewrite as of that transaction's start, so it runs again).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from pydantic import SecretStr

from core.memory.vectors.postgres_pool import SETTING, parse_url

log = logging.getLogger(__name__)

# How long the rewrite waits for the table's lock. While it waits, new recalls queue behind it.
LOCK_TIMEOUT_MS = 5_000

# When the rewrite's view of the table starts: now, or the start of the oldest open transaction
# that holds a snapshot (VACUUM FULL keeps the row versions that snapshot can still see, so deletes
# after that instant count as not yet purged and the next run rewrites again). Any database's: a
# long statement in another database on the server (an index build) was seen to keep deleted rows
# through the rewrite too, so counting only this database's recorded a purge that left text behind.
_STATE = """
select p.deleted_at, p.purged_at,
       least(now(), (select min(a.xact_start) from pg_stat_activity a
                      where a.pid <> pg_backend_pid() and a.backend_xmin is not null)),
       pg_has_role((select relowner from pg_class where oid = 'mnemo.memory_texts'::regclass), 'usage')
  from mnemo.memory_vectors_purge p
"""


class VectorPurge:
    """Rewrites mnemo.memory_texts' files when something was deleted since the last rewrite, and
    vacuums mnemo.memory_vectors."""

    def __init__(self, url: SecretStr | str, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> None:
        raw = url.get_secret_value() if isinstance(url, SecretStr) else url
        self._conninfo, _ = parse_url(raw)
        self._lock_timeout_ms = lock_timeout_ms

    def run(self) -> bool:
        """True when it rewrote the table; False when nothing was deleted since, when it may not,
        or when the table stayed busy past the lock timeout (the next run tries again)."""
        with psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=None) as conn:
            conn.execute(f"set lock_timeout = {int(self._lock_timeout_ms)}")
            return rewrite_if_deleted(conn)


def rewrite_if_deleted(conn: psycopg.Connection[Any]) -> bool:
    exists = conn.execute("select to_regclass('mnemo.memory_vectors_purge') is not null").fetchone()
    if not (exists and exists[0]):
        return False  # the store never ran on this database: nothing to purge
    row = conn.execute(_STATE).fetchone()
    if row is None:
        return False
    deleted_at, purged_at, started, owner = row
    if deleted_at is None or (purged_at is not None and purged_at >= deleted_at):
        return False
    if not owner:
        log.warning(
            "%s: this role does not own mnemo.memory_texts, so deleted memories cannot be rewritten "
            "out of its files; run the purge as the table owner",
            SETTING,
        )
        return False
    # Deletes that commit while this runs wait for its lock and record a later time: next run.
    try:
        conn.execute("vacuum (full) mnemo.memory_texts")
    except psycopg.errors.LockNotAvailable:
        # A transaction is using the table; waiting would queue every recall behind us.
        log.warning("the memory vector purge found the table busy; it runs again at the next interval")
        return False
    conn.execute("update mnemo.memory_vectors_purge set purged_at = %s", (started,))
    # No lock that blocks recalls or writes; it can take a while on a big table with an HNSW index.
    # Busy (another VACUUM or an index build on it): autovacuum, or the next run, does it.
    try:
        conn.execute("vacuum mnemo.memory_vectors")
    except psycopg.errors.LockNotAvailable:
        log.info("the memory vector table is being vacuumed or indexed already; skipped")
    return True
