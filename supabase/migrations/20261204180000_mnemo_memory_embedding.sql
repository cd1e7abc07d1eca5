-- Which embedding model and size the memory vectors (mnemo.memory_vectors) were made with, when the
-- bot runs with SUPABASE_DB_URL (core/memory/embedding_record.py).
--
-- One row per vector collection ('mnemo'): the model and the number of dimensions. At start-up the
-- bot refuses EMBEDDING_MODEL / EMBEDDING_DIMS settings that do not match it while memories exist
-- (vectors of another model cannot be compared), and `python -m bot admin reembed` re-embeds every
-- memory and records the new pair. The bot creates this table itself when it is missing.
--
-- Private like every Mnemo table: schema `mnemo` (not exposed), Row Level Security on with no
-- policy, nothing granted to anon/authenticated. Re-runnable; schema version unchanged (the
-- store's functions do not use this table).

create schema if not exists mnemo;
revoke all on schema mnemo from public;
grant usage on schema mnemo to service_role;

create table if not exists mnemo.memory_embedding (
    collection text collate "C" primary key,
    model text not null,
    dims integer not null check (dims > 0),
    recorded_at timestamptz not null default now()
);

alter table mnemo.memory_embedding enable row level security;

revoke all on table mnemo.memory_embedding from public, anon, authenticated;
grant select, insert, update, delete on table mnemo.memory_embedding to service_role;
