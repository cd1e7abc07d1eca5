"""Recall's SQL on PostgreSQL: one person's top k rows by cosine similarity, with the privacy filters.

Two ways, chosen once when the store starts (core.memory.vectors.postgres_index.IndexPlan):
- through the HNSW index, with pgvector 0.8's iterative scan (`hnsw.iterative_scan = relaxed_order`,
  set for the one transaction): the index yields rows about nearest first and keeps going until k
  of them pass the person and privacy filters (WHERE clauses, applied during the scan, joined to the
  text table for the payload); the ones found are re-sorted by their exact score. The index is the
  person's own where they have many memories (core.memory.vectors.postgres_personal: nobody else's
  rows to walk past), the shared one otherwise; the planner picks it, as recall's WHERE clause
  implies its predicate. `hnsw.ef_search` is k + 1 (at least 40, pgvector's default): the iterative
  scan goes on past it until k + 1 rows pass, so a bigger one only made the first batch slower
  (2k cost 4.0 ms where k + 1 cost 3.1, finding the same rows). relaxed_order found more of the
  exact top k than strict_order, in less time (strict_order drops candidates at its memory bound);
  bench/recall_scaling_postgres.py prints the share found. A person with at most k rows (counted in
  the same statement through the b-tree index, reading at most k + 1 entries) gets the exact scan
  instead, in that one statement: the index could not do better and its answer could be short.
  Otherwise it asks the index for k + 1 rows, and the exact scan answers instead (a second
  statement) when fewer come back (the privacy filters left fewer, or the scan gave up at
  `hnsw.max_scan_tuples`, 20,000 by default: a short answer is always the complete one) or when the
  k-th and the next score tie (identical vectors: which of them make the cut must be base.py's
  order, newest then id, as on SQLite, not the index's);
- exactly: every row of the person (b-tree index on collection, user_id), scored, top k.

Both sides are unit vectors (the store normalizes), so the inner product is the cosine: `<#>` (its
negation) is what the score is, and the index's cosine distance orders the same way. Ties: newest,
then id, as base.py's order. Only payloads and scores come back, not vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from core.memory.vectors.postgres_index import IndexPlan

# pgvector's bound on hnsw.ef_search, and its default.
_MAX_EF_SEARCH = 1_000
_MIN_EF_SEARCH = 40

# Rows are (id, payload, similarity, created_at).
# Parameters: query vector, collection, user, dims, the filters' parameters, top_k.
_EXACT = """
select id, payload, -negative_dot, created_at from (
    select v.id, t.payload, v.created_at, v.vector operator({s}.<#>) q.v as negative_dot
      from mnemo.memory_vectors v
      join mnemo.memory_texts t on t.collection = v.collection and t.id = v.id,
           (select %b::{s}.vector as v) as q
     where v.collection = %s and v.user_id = %s and {s}.vector_dims(v.vector) = %s{where}
) as scored
order by negative_dot, created_at desc nulls last, id limit %s
"""

# Parameters: query vector (scored), collection, user, the filters' parameters, query vector
# (ordered by, through the index), top_k. The size is a literal: the planner must see that the
# partial index's predicate holds.
_THROUGH_INDEX = """
select id, payload, -negative_dot, created_at from (
    select v.id, t.payload, v.created_at, v.vector operator({s}.<#>) %b::{s}.vector as negative_dot
      from mnemo.memory_vectors v
      join mnemo.memory_texts t on t.collection = v.collection and t.id = v.id
     where v.collection = %s and v.user_id = %s and {s}.vector_dims(v.vector) = {dims}{where}
     order by (v.vector::{s}.vector({dims})) operator({s}.<=>) (%b::{s}.vector({dims})) limit %s
) as found
order by negative_dot, created_at desc nulls last, id
"""


# One statement for either way: the exact scan for a person with at most k rows (counted through the
# b-tree index, at most k + 1 read), where the index could not do better and its answer would be
# short; through the index otherwise. Parameters: top_k, collection, user, top_k + 1, then
# _THROUGH_INDEX's, then _EXACT's. Only one side runs (a one-time filter); a fifth column says which.
_EITHER = """
with few as (
    select count(*) <= %s as few
      from (select 1 from mnemo.memory_vectors where collection = %s and user_id = %s limit %s) as mine
)
select *, false as exact from ({through_index}) as found where not (select few from few)
union all
select *, true as exact from ({exact}) as scored where (select few from few)
"""


def exact_statement(vec: sql.Identifier, where: sql.Composable) -> sql.Composed:
    return sql.SQL(_EXACT).format(s=vec, where=where)


def index_statement(vec: sql.Identifier, dims: int, where: sql.Composable) -> sql.Composed:
    return sql.SQL(_THROUGH_INDEX).format(s=vec, where=where, dims=sql.Literal(int(dims)))


def either_statement(vec: sql.Identifier, dims: int, where: sql.Composable) -> sql.Composed:
    return sql.SQL(_EITHER).format(
        through_index=index_statement(vec, dims, where), exact=exact_statement(vec, where)
    )


def _in_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """base.py's order (score, then newest, then id; created_at and id compare as bytes, as the
    "C" collation does), by stable sorts: a UNION ALL promises no order of its own."""
    rows = sorted(rows, key=lambda r: str(r[0]))
    rows.sort(key=lambda r: (r[3] is not None, r[3] or ""), reverse=True)
    rows.sort(key=lambda r: float(r[2]), reverse=True)
    return rows


def recall(
    conn: psycopg.Connection[Any],
    *,
    plan: IndexPlan,
    vec: sql.Identifier,
    dims: int,
    probe: np.ndarray,
    collection: str,
    user: str,
    where: sql.Composable,
    params: tuple[Any, ...],
    top_k: int,
) -> list[tuple[Any, ...]]:
    """The top k rows (id, payload, similarity, created_at) of `user`, best first, on an autocommit
    connection."""
    if plan.index is not None and top_k <= _MAX_EF_SEARCH:
        # The settings hold for this transaction only (a pooled connection, or Supabase's
        # transaction pooler, serves others next). Pipelined: BEGIN, the settings, the query and
        # COMMIT go in one round trip.
        with conn.pipeline(), conn.transaction():
            conn.execute(
                "select set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                "set_config('hnsw.ef_search', %s, true)",
                (str(min(_MAX_EF_SEARCH, max(_MIN_EF_SEARCH, top_k + 1))),),
            )
            cur = conn.execute(
                either_statement(vec, dims, where),
                (
                    *(top_k, collection, user, top_k + 1),
                    *(probe, collection, user, *params, probe, top_k + 1),
                    *(probe, collection, user, dims, *params, top_k),
                ),
            )
        rows = cur.fetchall()
        if rows and rows[0][4]:
            return _in_order([row[:4] for row in rows])  # the exact scan: complete
        if len(rows) > top_k:
            found = _in_order([row[:4] for row in rows])
            if found[top_k - 1][2] != found[top_k][2]:
                return found[:top_k]
        # The index's answer was short (the privacy filters left fewer, or the scan gave up), or a
        # tie crosses the cut, or nothing came back: only the exact scan can tell.
    args = (probe, collection, user, dims, *params, top_k)
    return conn.execute(exact_statement(vec, where), args).fetchall()
