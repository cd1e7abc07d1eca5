-- Erasure is a barrier across processes (core.erasure): every account carries an erasure epoch that
-- "forget all" moves in the transaction that deletes its rows, and work begun under an older epoch
-- (a reply being written, a queued or retried memory write) can no longer store anything. Merges
-- are recorded with both epochs, so a write begun for a merged account follows it to the surviving
-- one unless either was erased since. A link code is reserved by the one redemption that may merge
-- it before any memory moves. Schema version 7. Re-runnable, like every Mnemo migration.
--
-- Functions whose arguments change are new functions (PostgREST finds a function by its name and
-- argument names); the old ones keep working for bots that predate this version.

alter table mnemo.accounts add column if not exists epoch bigint not null default 0;
alter table mnemo.pending_memory_writes add column if not exists epoch bigint not null default 0;
alter table mnemo.link_codes add column if not exists reserved_by uuid;
alter table mnemo.link_codes add column if not exists reserved_at timestamptz;
-- erase_account drops the account's reservations; without this it would read every code.
create index if not exists link_codes_reserved_by_idx
    on mnemo.link_codes (reserved_by) where reserved_by is not null;

-- No foreign keys: the source is deleted by the merge itself, and the target may later merge on
-- (the chain source -> target -> next is followed one record at a time).
create table if not exists mnemo.account_merges (
    source uuid primary key,
    target uuid not null,
    source_epoch bigint not null,
    target_epoch bigint not null,
    merged_at timestamptz not null
);
create index if not exists account_merges_merged_at_idx on mnemo.account_merges (merged_at);

alter table mnemo.account_merges enable row level security;

revoke all on table mnemo.account_merges from public, anon, authenticated;
grant select, insert, update, delete on table mnemo.account_merges to service_role;


-- The epoch first, as a statement of its own: its row lock waits for every append or pending write
-- that checked the old epoch (they hold the row FOR SHARE), so the deletes after it, each with a
-- fresh snapshot, see what those stored; any that comes later sees the new epoch and stores nothing.
create or replace function public.mnemo_erase_account(p_account_id uuid)
returns integer
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_erased integer;
begin
    update mnemo.accounts a set epoch = a.epoch + 1 where a.id = p_account_id;
    delete from mnemo.pending_memory_writes w where w.account_id = p_account_id;
    update mnemo.link_codes c set reserved_by = null, reserved_at = null where c.reserved_by = p_account_id;
    with erased as (
        delete from mnemo.messages m where m.account_id = p_account_id returning 1
    )
    select count(*)::integer into v_erased from erased;
    return v_erased;
end;
$$;

-- The pause switch and the erasure epoch in one read; no row for an unknown account.
create or replace function public.mnemo_get_settings_with_epoch(p_account_id uuid)
returns table (memory_paused boolean, epoch bigint)
language sql stable security invoker set search_path = ''
as $$
    select coalesce(s.memory_paused, false), a.epoch
      from mnemo.accounts a left join mnemo.account_settings s on s.account_id = a.id
     where a.id = p_account_id
$$;

-- SQLSTATE MN001 (a class of Mnemo's own; PostgREST answers 400) says "erased since": the store
-- turns it into ErasedError, never a failure.
create or replace function public.mnemo_append_message_at_epoch(
    p_session_id uuid,
    p_account_id uuid,
    p_epoch bigint,
    p_role text,
    p_text text,
    p_now timestamptz,
    p_author_name text default null
)
returns mnemo.messages
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_epoch bigint;
    v_message mnemo.messages;
begin
    if p_epoch is null then
        raise exception 'mnemo_append_message_at_epoch: epoch is required' using errcode = '22023';
    end if;
    select a.epoch into v_epoch from mnemo.accounts a where a.id = p_account_id for share;
    if not found then
        raise exception 'mnemo_append_message_at_epoch: unknown account' using errcode = '23503';
    end if;
    if v_epoch <> p_epoch then
        raise exception 'mnemo: the account was erased after this work began' using errcode = 'MN001';
    end if;
    insert into mnemo.messages (session_id, account_id, role, text, author_name, created_at)
    values (p_session_id, p_account_id, p_role, p_text, p_author_name, p_now)
    returning * into v_message;
    return v_message;
end;
$$;

create or replace function public.mnemo_append_message_and_recent_at_epoch(
    p_session_id uuid,
    p_account_id uuid,
    p_epoch bigint,
    p_role text,
    p_text text,
    p_now timestamptz,
    p_limit integer,
    p_author_name text default null
)
returns setof mnemo.messages
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_epoch bigint;
begin
    if p_epoch is null then
        raise exception 'mnemo_append_message_and_recent_at_epoch: epoch is required' using errcode = '22023';
    end if;
    select a.epoch into v_epoch from mnemo.accounts a where a.id = p_account_id for share;
    if not found then
        raise exception 'mnemo_append_message_and_recent_at_epoch: unknown account' using errcode = '23503';
    end if;
    if v_epoch <> p_epoch then
        raise exception 'mnemo: the account was erased after this work began' using errcode = 'MN001';
    end if;
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

-- null, and nothing kept, when the account was erased after the write began.
create or replace function public.mnemo_add_pending_write_at_epoch(
    p_account_id uuid,
    p_epoch bigint,
    p_messages jsonb,
    p_origin_platform text,
    p_origin_channel text,
    p_origin_is_private boolean,
    p_now timestamptz,
    p_error text default null
)
returns uuid
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_epoch bigint;
    v_id uuid;
begin
    if p_epoch is null then
        raise exception 'mnemo_add_pending_write_at_epoch: epoch is required' using errcode = '22023';
    end if;
    select a.epoch into v_epoch from mnemo.accounts a where a.id = p_account_id for share;
    if not found then
        raise exception 'mnemo_add_pending_write_at_epoch: unknown account' using errcode = '23503';
    end if;
    if v_epoch <> p_epoch then
        return null;
    end if;
    insert into mnemo.pending_memory_writes (
        account_id, messages, origin_platform, origin_channel, origin_is_private,
        attempts, next_attempt_at, created_at, last_error, epoch
    )
    values (
        p_account_id, p_messages, p_origin_platform, p_origin_channel, p_origin_is_private,
        0, p_now, p_now, left(p_error, 500), p_epoch
    )
    returning id into v_id;
    return v_id;
end;
$$;

-- Older bots know no epochs: their pending writes take the account's current one, so that newer
-- bots retrying them do not drop them as written before an erasure.
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
        attempts, next_attempt_at, created_at, last_error, epoch
    )
    values (
        p_account_id, p_messages, p_origin_platform, p_origin_channel, p_origin_is_private,
        0, p_now, p_now, left(p_error, 500),
        coalesce((select a.epoch from mnemo.accounts a where a.id = p_account_id), 0)
    )
    returning id
$$;

-- {"account_id", "epoch"} where a memory write begun for (account, epoch) may land now, or null:
-- the account was erased since, its memory is paused, or it is gone. A merged account's writes
-- follow its merge records while each recorded epoch still holds; the seen-list stops a cycle.
create or replace function public.mnemo_memory_write_target(p_account_id uuid, p_epoch bigint)
returns jsonb
language plpgsql stable security invoker set search_path = ''
as $$
declare
    v_current uuid := p_account_id;
    v_wanted bigint := p_epoch;
    v_seen uuid[] := '{}';
    v_epoch bigint;
    v_paused boolean;
    v_merge mnemo.account_merges;
begin
    while v_current is not null and not (v_current = any (v_seen)) loop
        v_seen := v_seen || v_current;
        select a.epoch, coalesce(s.memory_paused, false) into v_epoch, v_paused
          from mnemo.accounts a left join mnemo.account_settings s on s.account_id = a.id
         where a.id = v_current;
        if found then
            if v_epoch is distinct from v_wanted or v_paused then
                return null;
            end if;
            return jsonb_build_object('account_id', v_current, 'epoch', v_wanted);
        end if;
        select * into v_merge from mnemo.account_merges m where m.source = v_current;
        if not found or v_merge.source_epoch is distinct from v_wanted then
            return null;
        end if;
        v_current := v_merge.target;
        v_wanted := v_merge.target_epoch;
    end loop;
    return null;
end;
$$;

-- One winner across processes: a second caller's update waits for the first and then re-reads the
-- row, which is reserved for someone else by then. True also when it already was ours.
create or replace function public.mnemo_reserve_link_code(
    p_code_hash text,
    p_account_id uuid,
    p_now timestamptz,
    p_hold_seconds double precision
)
returns boolean
language plpgsql volatile security invoker set search_path = ''
as $$
begin
    if p_account_id is null or p_now is null or p_hold_seconds is null or p_hold_seconds < 0 then
        raise exception 'mnemo_reserve_link_code: account, now and a non-negative hold are required'
            using errcode = '22023';
    end if;
    update mnemo.link_codes c set reserved_by = p_account_id, reserved_at = p_now
     where c.code_hash = p_code_hash and c.used_at is null and c.expires_at > p_now
       and c.account_id <> p_account_id
       and (c.reserved_by is null or c.reserved_by = p_account_id
            or c.reserved_at < p_now - make_interval(secs => p_hold_seconds));
    return found;
end;
$$;

-- Consume the code only when it is reserved for `source` (false, and nothing changes, otherwise),
-- record the merge with both epochs, move everything of `source` to `target` (pending writes take
-- the target's epoch), keep the stricter settings, delete `source`.
create or replace function public.mnemo_merge_accounts_reserved(
    p_source uuid,
    p_target uuid,
    p_code_hash text,
    p_now timestamptz
)
returns boolean
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_locked integer;
    v_source_epoch bigint;
    v_target_epoch bigint;
begin
    if p_source = p_target then
        raise exception 'mnemo_merge_accounts: source and target must differ' using errcode = '22023';
    end if;
    if p_now is null then
        raise exception 'mnemo_merge_accounts: now is required' using errcode = '22023';
    end if;
    -- Both rows locked in id order, so two merges between the same accounts cannot deadlock; an
    -- erasure of either waits for the merge (or the merge for it), so the epochs read below hold.
    select count(*) into v_locked from (
        select a.id from mnemo.accounts a where a.id in (p_source, p_target) order by a.id for update
    ) locked;
    if v_locked <> 2 then
        raise exception 'mnemo_merge_accounts: unknown account' using errcode = '23503';
    end if;
    update mnemo.link_codes c set used_at = p_now
     where c.code_hash = p_code_hash and c.used_at is null and c.account_id = p_target
       and c.reserved_by = p_source;
    if not found then
        return false;
    end if;
    select a.epoch into strict v_source_epoch from mnemo.accounts a where a.id = p_source;
    select a.epoch into strict v_target_epoch from mnemo.accounts a where a.id = p_target;
    insert into mnemo.account_merges (source, target, source_epoch, target_epoch, merged_at)
    values (p_source, p_target, v_source_epoch, v_target_epoch, p_now)
    on conflict (source) do update
        set target = excluded.target, source_epoch = excluded.source_epoch,
            target_epoch = excluded.target_epoch, merged_at = excluded.merged_at;
    update mnemo.identities i set account_id = p_target where i.account_id = p_source;
    update mnemo.messages m set account_id = p_target where m.account_id = p_source;
    update mnemo.pending_memory_writes w set account_id = p_target, epoch = v_target_epoch
     where w.account_id = p_source;
    if exists (
        select 1 from mnemo.account_settings s where s.account_id = p_source and s.memory_paused
    ) then
        insert into mnemo.account_settings (account_id, memory_paused, updated_at)
        values (p_target, true, p_now)
        on conflict (account_id) do update set memory_paused = true, updated_at = excluded.updated_at;
    end if;
    delete from mnemo.link_codes c where c.account_id = p_source;
    delete from mnemo.accounts a where a.id = p_source;
    return true;
end;
$$;

-- Older bots merge without reserving first: reserve for them, unless another account's redemption
-- holds the code (then the merge is refused, as it would be for a newer bot).
create or replace function public.mnemo_merge_accounts(
    p_source uuid,
    p_target uuid,
    p_code_hash text,
    p_now timestamptz
)
returns boolean
language plpgsql volatile security invoker set search_path = ''
as $$
begin
    update mnemo.link_codes c set reserved_by = p_source, reserved_at = p_now
     where c.code_hash = p_code_hash and c.used_at is null and c.reserved_by is null;
    return public.mnemo_merge_accounts_reserved(p_source, p_target, p_code_hash, p_now);
end;
$$;

-- Merge records only matter to writes begun before the merge; none is in flight after a week.
create or replace function public.mnemo_purge_bookkeeping(p_before timestamptz)
returns integer
language sql volatile security invoker set search_path = ''
as $$
    with events as (
        delete from mnemo.processed_events e where e.processed_at < p_before returning 1
    ), failures as (
        delete from mnemo.link_failures f where f.at < p_before returning 1
    ), codes as (
        delete from mnemo.link_codes c where c.expires_at < p_before returning 1
    ), merges as (
        delete from mnemo.account_merges m where m.merged_at < p_before returning 1
    )
    select ((select count(*) from events) + (select count(*) from failures)
            + (select count(*) from codes) + (select count(*) from merges))::integer
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 7 $$;

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
