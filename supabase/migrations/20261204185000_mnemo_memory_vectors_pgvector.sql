-- Memory recall in the database (pgvector) and keyword search, for the bot's SUPABASE_DB_URL store
-- (core/memory/vectors/postgres*.py, which applies the same statements itself when it starts on an
-- older table and may).
--
-- - `vector` becomes pgvector's type (extension `vector`, in Supabase's `extensions` schema): recall
--   orders one account's rows by cosine distance in the database and returns only the top k,
--   instead of shipping every vector of the account to the bot. Existing little-endian float32
--   bytea vectors are converted in place (infinities and NaNs, which pgvector refuses, become 0).
-- - `tsv` is the memory's text as an English tsvector with a GIN index: keyword search (BM25).
-- - `mnemo.memory_vectors_purge` records when rows were deleted and when the table's files were last
--   rewritten: forgetting deletes at once, and the bot's scheduled purge runs VACUUM FULL at most
--   once per VECTOR_PURGE_INTERVAL_MINUTES, instead of after every forget.
--
-- Private like every Mnemo table. Runs once on a table of the first layout; re-running it does
-- nothing. Schema version unchanged (the store's functions do not use these tables).

create schema if not exists extensions;
create extension if not exists vector with schema extensions;
grant usage on schema extensions to service_role;

do $upgrade$
begin
    if exists (
        select 1 from pg_catalog.pg_attribute
         where attrelid = 'mnemo.memory_vectors'::regclass and attname = 'vector'
           and atttypid = 'bytea'::regtype and not attisdropped
    ) then
        create function pg_temp.mnemo_vector_from_f4le(b bytea) returns extensions.vector
        language sql immutable as $f$
            select array_agg(
                case when e = 255 then 0::float8
                     when e = 0 then sgn * m * 2::float8 ^ (-149)
                     else sgn * (8388608 + m) * 2::float8 ^ (e - 150) end
                order by i)::real[]::extensions.vector
            from (
                select i,
                       case when get_byte(b, i * 4 + 3) >= 128 then -1::float8 else 1::float8 end as sgn,
                       ((get_byte(b, i * 4 + 3) & 127) << 1) | (get_byte(b, i * 4 + 2) >> 7) as e,
                       ((get_byte(b, i * 4 + 2) & 127) << 16) | (get_byte(b, i * 4 + 1) << 8)
                           | get_byte(b, i * 4) as m
                  from generate_series(0, length(b) / 4 - 1) as i
            ) as floats
        $f$;
        create function pg_temp.mnemo_tsv(p json) returns tsvector
        language plpgsql immutable as $f$
        begin
            return to_tsvector('english', coalesce(p->>'text_lemmatized', p->>'data', ''));
        exception when others then
            return ''::tsvector;  -- a text with a NUL (\u0000): not searchable by keyword, still recalled
        end;
        $f$;
        alter table mnemo.memory_vectors add column vector_new extensions.vector, add column tsv tsvector;
        alter table mnemo.memory_vectors alter column vector_new set storage main;
        update mnemo.memory_vectors
           set vector_new = pg_temp.mnemo_vector_from_f4le(vector), tsv = pg_temp.mnemo_tsv(payload);
        alter table mnemo.memory_vectors drop column vector;
        alter table mnemo.memory_vectors rename column vector_new to vector;
        alter table mnemo.memory_vectors alter column vector set not null,
            alter column tsv set default ''::tsvector, alter column tsv set not null;
    end if;
end;
$upgrade$;

-- Vectors in the row, not in TOAST: recall reads every vector of the person (3x faster).
-- Text never compressed, so the erasure tests can find every copy of it in the table's files.
-- Only on this layout: a later migration (*_mnemo_memory_texts.sql) moves payload and tsv to
-- mnemo.memory_texts, and re-running every migration must still work.
do $layout$
begin
    if exists (
        select 1 from pg_catalog.pg_attribute
         where attrelid = 'mnemo.memory_vectors'::regclass and attname = 'payload' and not attisdropped
    ) then
        alter table mnemo.memory_vectors alter column vector set storage main,
            alter column payload set storage external, alter column tsv set storage external;
        create index if not exists memory_vectors_tsv_idx on mnemo.memory_vectors using gin (tsv);
    end if;
end;
$layout$;

create table if not exists mnemo.memory_vectors_purge (
    id boolean primary key default true check (id),
    deleted_at timestamptz,
    purged_at timestamptz
);
insert into mnemo.memory_vectors_purge (id) values (true) on conflict do nothing;

alter table mnemo.memory_vectors_purge enable row level security;
revoke all on table mnemo.memory_vectors_purge from public, anon, authenticated;
-- The same grant the earlier migrations give every mnemo table (they re-grant on re-runs).
grant select, insert, update, delete on table mnemo.memory_vectors_purge to service_role;
