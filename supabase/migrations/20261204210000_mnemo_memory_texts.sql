-- Memory words apart from memory vectors, and an HNSW index for recall (core/memory/vectors/
-- postgres_schema.py and postgres_index.py, which do the same themselves when the bot starts on an
-- older table and may). Schema version 13. Re-runnable: a second run changes nothing.
--
-- - `mnemo.memory_vectors` keeps numbers and ids only (collection, id, user_id, created_at,
--   vector); mem0's payload and the keyword tsvector move to `mnemo.memory_texts` (same key, rows
--   deleted with their vector row by a cascading foreign key). The scheduled purge then rewrites
--   only the text table (VACUUM FULL: small rows, b-tree and GIN indexes) and gives the vector
--   table a plain VACUUM, which does not lock recalls out or rebuild the HNSW index.
-- - The old rows are set aside in a temporary table, the old table dropped, the rows copied into
--   the two tables and the temporary table dropped, in this migration's transaction: the old files,
--   words included, are unlinked at commit (dropping columns would leave the words in the files
--   until a rewrite).
-- - HNSW index (cosine) on vectors of 1536 dimensions, EMBEDDING_DIMS' default, when the database's
--   pgvector is 0.8 or later (iterative index scans: a person's rows and the privacy filters are
--   WHERE clauses, and only 0.8 keeps scanning until k rows pass them). With another EMBEDDING_DIMS
--   the bot makes memory_vectors_hnsw_<dims> itself at start (CREATE INDEX CONCURRENTLY).
--
-- A big existing table: building the index here holds a lock that blocks writes to the table (not
-- reads) for the build (about a minute per 100,000 rows of 1536 dims), and CREATE INDEX
-- CONCURRENTLY cannot run inside a migration's transaction. For a big table, apply this file with
-- the `create index` block below removed, then run, outside a transaction (psql, the SQL editor):
--     create index concurrently if not exists memory_vectors_hnsw_1536 on mnemo.memory_vectors
--         using hnsw ((vector::extensions.vector(1536)) extensions.vector_cosine_ops)
--         where extensions.vector_dims(vector) = 1536;
-- or just start the bot as the table's owner: it builds it concurrently when it is missing (and
-- rebuilds one a failed concurrent build left invalid). Until then recall uses the exact scan.

create extension if not exists vector with schema extensions;

do $split$
begin
    if exists (
        select 1 from pg_catalog.pg_attribute
         where attrelid = 'mnemo.memory_vectors'::regclass and attname = 'payload' and not attisdropped
    ) then
        create temporary table memory_vectors_old as select * from mnemo.memory_vectors;
        drop table mnemo.memory_vectors;
    end if;
end;
$split$;

create table if not exists mnemo.memory_vectors (
    collection text collate "C" not null,
    id text collate "C" not null,
    user_id text collate "C",
    created_at text collate "C",
    vector extensions.vector not null,
    primary key (collection, id)
);
-- Vectors in the row, not TOAST: a recall that reads the person's vectors reads fewer pages.
alter table mnemo.memory_vectors alter column vector set storage main;
create index if not exists memory_vectors_user_idx
    on mnemo.memory_vectors (collection, user_id, created_at);
create table if not exists mnemo.memory_texts (
    collection text collate "C" not null,
    id text collate "C" not null,
    user_id text collate "C",
    created_at text collate "C",
    payload json not null,
    tsv tsvector not null default ''::tsvector,
    primary key (collection, id),
    foreign key (collection, id) references mnemo.memory_vectors (collection, id) on delete cascade
);
-- Text never compressed, so the erasure tests can find every copy of it in the table's files.
alter table mnemo.memory_texts alter column payload set storage external,
    alter column tsv set storage external;
create index if not exists memory_texts_user_idx on mnemo.memory_texts (collection, user_id, created_at);
create index if not exists memory_texts_tsv_idx on mnemo.memory_texts using gin (tsv);

do $copy$
begin
    if to_regclass('pg_temp.memory_vectors_old') is not null then
        insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector)
        select collection, id, user_id, created_at, vector from pg_temp.memory_vectors_old;
        insert into mnemo.memory_texts (collection, id, user_id, created_at, payload, tsv)
        select collection, id, user_id, created_at, payload, tsv from pg_temp.memory_vectors_old;
        drop table pg_temp.memory_vectors_old;
    end if;
end;
$copy$;

alter table mnemo.memory_vectors enable row level security;
alter table mnemo.memory_texts enable row level security;
revoke all on table mnemo.memory_vectors, mnemo.memory_texts from public, anon, authenticated;
grant select, insert, update, delete on table mnemo.memory_vectors, mnemo.memory_texts to service_role;

-- The HNSW index (see the top of this file for a big table).
do $index$
begin
    if (select string_to_array(extversion, '.')::int[] >= array[0, 8]
          from pg_catalog.pg_extension where extname = 'vector') then
        create index if not exists memory_vectors_hnsw_1536 on mnemo.memory_vectors
            using hnsw ((vector::extensions.vector(1536)) extensions.vector_cosine_ops)
            where extensions.vector_dims(vector) = 1536;
    end if;
end;
$index$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 13 $$;

do $$
declare
    fn regprocedure;
begin
    for fn in
        select p.oid::regprocedure
          from pg_catalog.pg_proc p
          join pg_catalog.pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'public' and p.proname like 'mnemo\_%'
    loop
        execute format('revoke all on function %s from public, anon, authenticated', fn);
        execute format('grant execute on function %s to service_role', fn);
    end loop;
end;
$$;
