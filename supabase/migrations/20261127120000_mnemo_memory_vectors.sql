-- mem0's memory vectors, when the bot runs with SUPABASE_DB_URL (core/vector_store_postgres.py).
--
-- One row per memory (collection 'mnemo') or mem0 entity (collection 'mnemo_entities'): the
-- account id, mem0's created_at string, the normalized float32 vector as bytea, and mem0's payload
-- (the memory's text, where it was learned). Recall reads one account's rows through
-- memory_vectors_user_idx and scores them exactly in the bot, so no pgvector is needed.
--
-- The bot connects with SUPABASE_DB_URL directly (not through the Data API), creates this table
-- itself when it is missing, and rewrites it with VACUUM (FULL) after every erasure so deleted text
-- does not stay in the table's files: connect as the table's owner (the `postgres` role that
-- `supabase db push` uses) for that to work.
--
-- Private like every Mnemo table: schema `mnemo` (not exposed), Row Level Security on with no
-- policy, nothing granted to anon/authenticated. Re-runnable; schema version unchanged (the
-- store's functions do not use this table).
--
-- COLLATE "C" sorts ids and ISO timestamps byte by byte, as the embedded store does, whatever the
-- database's locale. `payload` is json, not jsonb: jsonb rejects the \u0000 escape a memory's text
-- may carry.

create schema if not exists mnemo;
revoke all on schema mnemo from public;
grant usage on schema mnemo to service_role;

create table if not exists mnemo.memory_vectors (
    collection text collate "C" not null,
    id text collate "C" not null,
    user_id text collate "C",
    created_at text collate "C",
    vector bytea not null check (octet_length(vector) % 4 = 0),
    payload json not null,
    primary key (collection, id)
);
create index if not exists memory_vectors_user_idx
    on mnemo.memory_vectors (collection, user_id, created_at);

alter table mnemo.memory_vectors enable row level security;

revoke all on table mnemo.memory_vectors from public, anon, authenticated;
grant select, insert, update, delete on table mnemo.memory_vectors to service_role;
