"""The SQL of core.memory.vectors.postgres that is more than one line: privacy filters, the purge
mark, connection set-up, and keyword search.

Keyword search on PostgreSQL is mem0's BM25 signal.

mem0 2.2.1's `Memory.search` calls `keyword_search(query=<lemmatized query>, top_k=max(4*limit, 60),
filters=<the same filters as the semantic search>)` and passes each result's `score` through a
sigmoid tuned for raw BM25 scores (midpoint 5 to 12 by query length), so a score here is Okapi BM25
(k1 1.2, b 0.75), not ts_rank (whose 0..1 would always read as "no match" there).

How: the query's English stems (to_tsvector, so stop words and punctuation drop out) become an OR
query (websearch_to_tsquery over the stems, which never rejects its input), matched through the
GIN index on mnemo.memory_texts' `tsv` within the person's rows and the privacy filters. Term
frequencies come from the matching rows' tsvectors; document frequencies are exact (every row
holding a term is a match); N is the person's row count; the average length is the matching rows'
(reading every row of a heavy user for it would cost what the index saves). Hand-written SQL:
PostgreSQL has no BM25 function and extensions that add one (pg_search, pg_textsearch) are not on
Supabase's list.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from pgvector.psycopg.vector import register_vector_info
from psycopg import sql
from psycopg.types import TypeInfo

from core.memory.vectors.base import _PAYLOAD_DEFAULTS
from core.memory.vectors.postgres_schema import vector_schema

# A DELETE or UPDATE ... returning 1 that also records that rows were deleted or replaced (their
# old bytes wait in the table's files for the purge job), and counts them. One round trip. The first
# placeholder is for statements that run before it (a CTE list ending in a comma, or nothing).
CHANGED_SQL = (
    "with {}changed as ({}), marked as ("
    "update mnemo.memory_vectors_purge set deleted_at = greatest(deleted_at, now()) "
    "where exists (select 1 from changed) returning 1) "
    "select count(*) from changed"
)

# One memory: its vector row, then its text row (a replaced memory replaces both); true when it
# replaced one. Named parameters: c(ollection), i(d), u(ser), t(ime), v(ector), p(ayload), w(ords).
INSERT_SQL = (
    "with v as (insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector) "
    "values (%(c)s, %(i)s, %(u)s, %(t)s, %(v)b) "
    "on conflict (collection, id) do update set user_id = excluded.user_id, "
    "created_at = excluded.created_at, vector = excluded.vector returning xmax <> 0 as replaced) "
    "insert into mnemo.memory_texts (collection, id, user_id, created_at, payload, tsv) "
    "select %(c)s, %(i)s, %(u)s, %(t)s, %(p)s::json, to_tsvector('english', %(w)s) from v "
    "on conflict (collection, id) do update set user_id = excluded.user_id, "
    "created_at = excluded.created_at, payload = excluded.payload, tsv = excluded.tsv "
    "returning (select replaced from v)"
)

# Updates for CHANGED_SQL, as (statements before, the counted one), with INSERT_SQL's parameters.
# The vector table keeps the account and created_at beside the vector (recall filters and orders by
# them there): a new payload updates them in both tables.
_UPDATE_TEXT = (
    "update mnemo.memory_texts set payload = %(p)s::json, user_id = %(u)s, created_at = %(t)s, "
    "tsv = to_tsvector('english', %(w)s) where collection = %(c)s and id = %(i)s returning 1"
)
UPDATE_BOTH = (
    "v as (update mnemo.memory_vectors set vector = %(v)b, user_id = %(u)s, created_at = %(t)s "
    "where collection = %(c)s and id = %(i)s), ",
    _UPDATE_TEXT,
)
UPDATE_VECTOR = (
    "",
    "update mnemo.memory_vectors set vector = %(v)b where collection = %(c)s and id = %(i)s returning 1",
)
UPDATE_PAYLOAD = (
    "v as (update mnemo.memory_vectors set user_id = %(u)s, created_at = %(t)s "
    "where collection = %(c)s and id = %(i)s), ",
    _UPDATE_TEXT,
)


def configure_connection(conn: psycopg.Connection[Any]) -> None:
    """numpy arrays are sent as pgvector's binary `vector`, and read back as pgvector.Vector."""
    schema = vector_schema(conn)
    register_vector_info(conn, TypeInfo.fetch(conn, f"{schema}.vector") if schema else None)


def filters_sql(filters: dict[str, Any] | None) -> tuple[sql.Composable, tuple[Any, ...]]:
    """base.matches as SQL over the json payload: each key but user_id equals its value, a missing
    key reading as its default (epoch 0). Compared as jsonb values, as Python compares them."""
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for key, expected in (filters or {}).items():
        if key == "user_id":
            continue
        clauses.append(sql.SQL(" and coalesce((payload -> %s)::jsonb, %s::jsonb) = %s::jsonb"))
        params += [str(key), json.dumps(_PAYLOAD_DEFAULTS.get(key)), json.dumps(expected)]
    return sql.Composed(clauses), tuple(params)


# Longer query text adds nothing to a ranking over short memories, only parsing time.
MAX_QUERY_CHARS = 4_000
# to_tsvector refuses more than 1 MB of lexemes; no memory is near this.
MAX_TEXT_CHARS = 200_000

# Parameters: query text, collection, user, the filters' parameters, collection, user, top_k.
KEYWORD_SQL = """
with terms as (
    select array_agg(lexeme) as lexemes,
           websearch_to_tsquery('simple', string_agg(lexeme, ' or ')) as tsq
      from unnest(tsvector_to_array(to_tsvector('english', %s))) as lexeme
),
hits as (
    select m.id, m.payload, m.created_at, m.tsv
      from mnemo.memory_texts m, terms
     where m.collection = %s and m.user_id = %s and m.tsv @@ terms.tsq{where}
),
postings as (
    select h.id, t.lexeme, coalesce(array_length(t.positions, 1), 1)::float8 as tf,
           greatest(length(h.tsv), 1)::float8 as dl
      from hits h cross join lateral unnest(h.tsv) as t, terms
     where t.lexeme = any(terms.lexemes)
),
df as (select lexeme, count(*)::float8 as df from postings group by lexeme),
stats as (
    select (select count(*) from mnemo.memory_texts where collection = %s and user_id = %s)::float8 as n,
           (select coalesce(avg(dl), 1) from (select distinct id, dl from postings) as d) as avgdl
),
scores as (
    select p.id,
           sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5))
               * p.tf * 2.2 / (p.tf + 1.2 * (0.25 + 0.75 * p.dl / s.avgdl))) as score
      from postings p join df using (lexeme) cross join stats s
     group by p.id
)
select h.id, h.payload, s.score
  from scores s join hits h using (id)
 order by s.score desc, h.created_at desc nulls last, h.id
 limit %s
"""


def _clean(text: Any, limit: int) -> str:
    if not isinstance(text, str):
        return ""
    return text.replace("\x00", " ")[:limit]


def keyword_text(query: Any) -> str:
    """The query as to_tsvector takes it: text without NULs (PostgreSQL text cannot hold one), cut
    to MAX_QUERY_CHARS. Anything but a string is no query."""
    return _clean(query, MAX_QUERY_CHARS).strip()


def search_text(payload: dict[str, Any]) -> str:
    """What a memory is found by: mem0's lemmatized text when it wrote one, else the text itself."""
    text = payload.get("text_lemmatized") or payload.get("data")
    return _clean(text, MAX_TEXT_CHARS)


def checked_text(name: str, value: Any) -> str | None:
    """`value` as text for a query parameter; ValueError for a NUL, which PostgreSQL text cannot hold."""
    if value is None:
        return None
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"{name} may not contain a NUL character (PostgreSQL text cannot hold one)")
    return text


def payload_params(payload: dict[str, Any]) -> dict[str, Any]:
    """The text table's parameters for a payload: the JSON, its account, its date, its words."""
    return {
        "p": json.dumps(payload),
        "u": checked_text("user_id", payload.get("user_id")),
        "t": checked_text("created_at", payload.get("created_at")),
        "w": search_text(payload),
    }
