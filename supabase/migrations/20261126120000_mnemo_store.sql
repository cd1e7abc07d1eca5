-- Mnemo's store: accounts, platform identities, sessions, messages, processed events, per-account
-- settings and pending memory writes.
--
-- Layout: the tables live in a private schema `mnemo` that the Data API does not expose; the bot
-- reaches them only through the `public.mnemo_*` functions below, called with the service_role key
-- (one rpc = one round trip = one transaction). Row Level Security is enabled on every table with no
-- policy at all, so even if someone exposes the schema or grants a table to anon/authenticated, those
-- roles read nothing; service_role bypasses RLS by design.
--
-- Re-runnable: every statement is idempotent (IF NOT EXISTS, CREATE OR REPLACE, revoke/grant), so
-- applying this file twice leaves the database exactly as after the first time (tests/supabase
-- proves it with a schema dump). The Supabase CLI also records it in supabase_migrations.
--
-- Needs the roles every Supabase project has: anon, authenticated, service_role.

create schema if not exists mnemo;
revoke all on schema mnemo from public;
grant usage on schema mnemo to service_role;

create table if not exists mnemo.accounts (
    id uuid primary key default gen_random_uuid(),
    created_at timestamptz not null default now(),
    display_name text
);

-- One platform identity maps to exactly one account: the primary key makes it so.
create table if not exists mnemo.identities (
    platform text not null check (platform <> ''),
    workspace text not null,
    user_id text not null check (user_id <> ''),
    account_id uuid not null references mnemo.accounts (id) on delete cascade,
    created_at timestamptz not null default now(),
    primary key (platform, workspace, user_id)
);
create index if not exists identities_account_id_idx on mnemo.identities (account_id);

create table if not exists mnemo.account_settings (
    account_id uuid primary key references mnemo.accounts (id) on delete cascade,
    memory_paused boolean not null default false,
    updated_at timestamptz not null default now()
);

create table if not exists mnemo.sessions (
    id uuid primary key default gen_random_uuid(),
    platform text not null check (platform <> ''),
    workspace text not null,
    channel text not null check (channel <> ''),
    thread text not null default '',
    opened_at timestamptz not null,
    last_active_at timestamptz not null,
    closed_at timestamptz
);
-- At most one open session per conversation, enforced by the database itself.
create unique index if not exists sessions_one_open_per_conversation
    on mnemo.sessions (platform, workspace, channel, thread) where closed_at is null;
create index if not exists sessions_open_last_active_idx
    on mnemo.sessions (last_active_at) where closed_at is null;

create table if not exists mnemo.messages (
    id uuid primary key default gen_random_uuid(),
    -- Insertion order; timestamps from different processes can tie or disagree, a sequence cannot.
    seq bigint generated always as identity,
    session_id uuid not null references mnemo.sessions (id) on delete cascade,
    account_id uuid not null references mnemo.accounts (id) on delete cascade,
    role text not null check (role in ('user', 'assistant')),
    text text not null,
    author_name text,
    created_at timestamptz not null
);
create index if not exists messages_session_seq_idx on mnemo.messages (session_id, seq);
create index if not exists messages_account_id_idx on mnemo.messages (account_id);
create index if not exists messages_created_at_idx on mnemo.messages (created_at);

-- An event id (a platform delivery) is processed once: the primary key decides who claimed it first.
create table if not exists mnemo.processed_events (
    key text primary key check (key <> ''),
    processed_at timestamptz not null
);
create index if not exists processed_events_processed_at_idx on mnemo.processed_events (processed_at);

create table if not exists mnemo.pending_memory_writes (
    id uuid primary key default gen_random_uuid(),
    account_id uuid not null references mnemo.accounts (id) on delete cascade,
    messages jsonb not null check (jsonb_typeof(messages) = 'array'),
    origin_platform text not null,
    origin_channel text not null,
    origin_is_private boolean not null,
    attempts integer not null default 0 check (attempts >= 0),
    next_attempt_at timestamptz not null,
    created_at timestamptz not null,
    last_error text
);
create index if not exists pending_memory_writes_due_idx on mnemo.pending_memory_writes (next_attempt_at);
create index if not exists pending_memory_writes_account_id_idx on mnemo.pending_memory_writes (account_id);

alter table mnemo.accounts enable row level security;
alter table mnemo.identities enable row level security;
alter table mnemo.account_settings enable row level security;
alter table mnemo.sessions enable row level security;
alter table mnemo.messages enable row level security;
alter table mnemo.processed_events enable row level security;
alter table mnemo.pending_memory_writes enable row level security;

revoke all on all tables in schema mnemo from public, anon, authenticated;
grant select, insert, update, delete on all tables in schema mnemo to service_role;
revoke all on all sequences in schema mnemo from public, anon, authenticated;
grant usage, select on all sequences in schema mnemo to service_role;


-- Functions. All are SECURITY INVOKER (they run as the caller, service_role) with an empty
-- search_path and fully qualified names, so nothing a caller puts on its search_path can hijack them.

-- The schema version this file creates; the bot refuses to start against an older one.
create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 1 $$;

create or replace function public.mnemo_resolve_account(
    p_platform text,
    p_workspace text,
    p_user_id text,
    p_display_name text default null
)
returns mnemo.accounts
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_account mnemo.accounts;
    v_account_id uuid;
begin
    if coalesce(p_platform, '') = '' or coalesce(p_user_id, '') = '' or p_workspace is null then
        raise exception 'mnemo_resolve_account: platform, workspace and user id are required'
            using errcode = '22023';
    end if;
    select i.account_id into v_account_id
      from mnemo.identities i
     where i.platform = p_platform and i.workspace = p_workspace and i.user_id = p_user_id;
    if not found then
        insert into mnemo.accounts (display_name) values (nullif(p_display_name, ''))
        returning * into v_account;
        -- A concurrent first message from the same person waits here for the other transaction,
        -- then inserts nothing; the primary key, not luck, keeps it to one account.
        insert into mnemo.identities (platform, workspace, user_id, account_id)
        values (p_platform, p_workspace, p_user_id, v_account.id)
        on conflict (platform, workspace, user_id) do nothing;
        if found then
            return v_account;
        end if;
        delete from mnemo.accounts a where a.id = v_account.id;
        select i.account_id into strict v_account_id
          from mnemo.identities i
         where i.platform = p_platform and i.workspace = p_workspace and i.user_id = p_user_id;
    end if;
    if coalesce(p_display_name, '') <> '' then
        update mnemo.accounts a set display_name = p_display_name
         where a.id = v_account_id and a.display_name is distinct from p_display_name;
    end if;
    select * into strict v_account from mnemo.accounts a where a.id = v_account_id;
    return v_account;
end;
$$;

create or replace function public.mnemo_touch_session(
    p_platform text,
    p_workspace text,
    p_channel text,
    p_thread text,
    p_now timestamptz,
    p_idle_seconds double precision
)
returns mnemo.sessions
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_session mnemo.sessions;
begin
    if p_now is null or p_idle_seconds is null or p_idle_seconds < 0 then
        raise exception 'mnemo_touch_session: now and a non-negative idle timeout are required'
            using errcode = '22023';
    end if;
    -- Bounded retry: each pass either returns or lost a race to a transaction that has committed.
    for attempt in 1..10 loop
        select * into v_session
          from mnemo.sessions s
         where s.platform = p_platform and s.workspace = p_workspace and s.channel = p_channel
           and s.thread = coalesce(p_thread, '') and s.closed_at is null
           for update;
        if found then
            if v_session.last_active_at >= p_now - make_interval(secs => p_idle_seconds) then
                update mnemo.sessions s set last_active_at = greatest(s.last_active_at, p_now)
                 where s.id = v_session.id
                returning * into v_session;
                return v_session;
            end if;
            update mnemo.sessions s set closed_at = p_now where s.id = v_session.id;
        end if;
        insert into mnemo.sessions (platform, workspace, channel, thread, opened_at, last_active_at)
        values (p_platform, p_workspace, p_channel, coalesce(p_thread, ''), p_now, p_now)
        on conflict (platform, workspace, channel, thread) where closed_at is null do nothing
        returning * into v_session;
        if found then
            return v_session;
        end if;
    end loop;
    raise exception 'mnemo_touch_session: could not open a session after 10 attempts'
        using errcode = '40001';
end;
$$;

create or replace function public.mnemo_get_session(p_session_id uuid)
returns setof mnemo.sessions
language sql stable security invoker set search_path = ''
as $$ select * from mnemo.sessions s where s.id = p_session_id $$;

create or replace function public.mnemo_append_message(
    p_session_id uuid,
    p_account_id uuid,
    p_role text,
    p_text text,
    p_now timestamptz,
    p_author_name text default null
)
returns mnemo.messages
language sql volatile security invoker set search_path = ''
as $$
    insert into mnemo.messages (session_id, account_id, role, text, author_name, created_at)
    values (p_session_id, p_account_id, p_role, p_text, p_author_name, p_now)
    returning *
$$;

create or replace function public.mnemo_recent_messages(p_session_id uuid, p_limit integer)
returns setof mnemo.messages
language sql stable security invoker set search_path = ''
as $$
    select r.* from (
        select * from mnemo.messages m
         where m.session_id = p_session_id
         order by m.seq desc
         limit p_limit
    ) r
    order by r.seq
$$;

-- The turns before a new message and the message itself, in one round trip: up to p_limit earlier
-- messages of the session, oldest first, then the stored new message as the last row.
create or replace function public.mnemo_append_message_and_recent(
    p_session_id uuid,
    p_account_id uuid,
    p_role text,
    p_text text,
    p_now timestamptz,
    p_limit integer,
    p_author_name text default null
)
returns setof mnemo.messages
language plpgsql volatile security invoker set search_path = ''
as $$
begin
    return query
        select r.* from (
            select * from mnemo.messages m
             where m.session_id = p_session_id
             order by m.seq desc
             limit p_limit
        ) r
        order by r.seq;
    return query
        insert into mnemo.messages (session_id, account_id, role, text, author_name, created_at)
        values (p_session_id, p_account_id, p_role, p_text, p_author_name, p_now)
        returning *;
end;
$$;

create or replace function public.mnemo_claim_event(p_key text, p_now timestamptz)
returns boolean
language sql volatile security invoker set search_path = ''
as $$
    with claimed as (
        insert into mnemo.processed_events (key, processed_at) values (p_key, p_now)
        on conflict (key) do nothing
        returning 1
    )
    select exists (select 1 from claimed)
$$;

create or replace function public.mnemo_get_settings(p_account_id uuid)
returns setof mnemo.account_settings
language sql stable security invoker set search_path = ''
as $$ select * from mnemo.account_settings s where s.account_id = p_account_id $$;

create or replace function public.mnemo_set_memory_paused(p_account_id uuid, p_paused boolean)
returns void
language sql volatile security invoker set search_path = ''
as $$
    insert into mnemo.account_settings (account_id, memory_paused, updated_at)
    values (p_account_id, p_paused, now())
    on conflict (account_id) do update
        set memory_paused = excluded.memory_paused, updated_at = excluded.updated_at
$$;

create or replace function public.mnemo_close_idle_sessions(p_now timestamptz, p_idle_seconds double precision)
returns integer
language sql volatile security invoker set search_path = ''
as $$
    with closed as (
        update mnemo.sessions s set closed_at = p_now
         where s.closed_at is null
           and s.last_active_at < p_now - make_interval(secs => p_idle_seconds)
        returning 1
    )
    select count(*)::integer from closed
$$;

create or replace function public.mnemo_purge_messages(p_before timestamptz)
returns integer
language sql volatile security invoker set search_path = ''
as $$
    with purged as (
        delete from mnemo.messages m where m.created_at < p_before returning 1
    )
    select count(*)::integer from purged
$$;

create or replace function public.mnemo_erase_account(p_account_id uuid)
returns integer
language sql volatile security invoker set search_path = ''
as $$
    delete from mnemo.pending_memory_writes w where w.account_id = p_account_id;
    with erased as (
        delete from mnemo.messages m where m.account_id = p_account_id returning 1
    )
    select count(*)::integer from erased;
$$;

create or replace function public.mnemo_add_pending_write(
    p_account_id uuid,
    p_messages jsonb,
    p_origin_platform text,
    p_origin_channel text,
    p_origin_is_private boolean,
    p_now timestamptz,
    p_error text default null
)
returns uuid
language sql volatile security invoker set search_path = ''
as $$
    insert into mnemo.pending_memory_writes (
        account_id, messages, origin_platform, origin_channel, origin_is_private,
        attempts, next_attempt_at, created_at, last_error
    )
    values (
        p_account_id, p_messages, p_origin_platform, p_origin_channel, p_origin_is_private,
        0, p_now, p_now, left(p_error, 500)
    )
    returning id
$$;

create or replace function public.mnemo_due_pending_writes(p_now timestamptz, p_limit integer)
returns setof mnemo.pending_memory_writes
language sql stable security invoker set search_path = ''
as $$
    select * from mnemo.pending_memory_writes w
     where w.next_attempt_at <= p_now
     order by w.next_attempt_at, w.created_at
     limit p_limit
$$;

create or replace function public.mnemo_complete_pending_write(p_write_id uuid)
returns void
language sql volatile security invoker set search_path = ''
as $$ delete from mnemo.pending_memory_writes w where w.id = p_write_id $$;

create or replace function public.mnemo_reschedule_pending_write(
    p_write_id uuid,
    p_next_attempt_at timestamptz,
    p_error text
)
returns void
language sql volatile security invoker set search_path = ''
as $$
    update mnemo.pending_memory_writes w
       set attempts = w.attempts + 1, next_attempt_at = p_next_attempt_at, last_error = left(p_error, 500)
     where w.id = p_write_id
$$;

-- Only the bot (service_role) may call these; Supabase grants EXECUTE on new public functions to
-- anon and authenticated by default, and PostgreSQL to PUBLIC.
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
