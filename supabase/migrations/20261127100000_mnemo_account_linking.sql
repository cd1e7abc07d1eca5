-- Account linking (one person, one memory across platforms): one-time link codes (stored hashed),
-- failed attempts (for the brute-force limit), merging one account into another in one
-- transaction, listing and detaching identities. Schema version 4.
-- Re-runnable, like every Mnemo migration.

create table if not exists mnemo.link_codes (
    code_hash text primary key check (code_hash <> ''),
    account_id uuid not null references mnemo.accounts (id) on delete cascade,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz
);
create index if not exists link_codes_account_id_idx on mnemo.link_codes (account_id);

create table if not exists mnemo.link_failures (
    id bigint generated always as identity primary key,
    platform text not null,
    workspace text not null,
    user_id text not null,
    at timestamptz not null
);
create index if not exists link_failures_identity_at_idx
    on mnemo.link_failures (platform, workspace, user_id, at);

alter table mnemo.link_codes enable row level security;
alter table mnemo.link_failures enable row level security;

revoke all on all tables in schema mnemo from public, anon, authenticated;
grant select, insert, update, delete on all tables in schema mnemo to service_role;
revoke all on all sequences in schema mnemo from public, anon, authenticated;
grant usage, select on all sequences in schema mnemo to service_role;

create or replace function public.mnemo_add_link_code(
    p_account_id uuid,
    p_code_hash text,
    p_now timestamptz,
    p_expires_at timestamptz
)
returns void
language sql volatile security invoker set search_path = ''
as $$
    insert into mnemo.link_codes (code_hash, account_id, created_at, expires_at)
    values (p_code_hash, p_account_id, p_now, p_expires_at)
$$;

create or replace function public.mnemo_find_link_code(p_code_hash text)
returns setof mnemo.link_codes
language sql stable security invoker set search_path = ''
as $$ select * from mnemo.link_codes c where c.code_hash = p_code_hash $$;

create or replace function public.mnemo_record_link_failure(
    p_platform text,
    p_workspace text,
    p_user_id text,
    p_now timestamptz
)
returns void
language sql volatile security invoker set search_path = ''
as $$
    insert into mnemo.link_failures (platform, workspace, user_id, at)
    values (p_platform, p_workspace, p_user_id, p_now)
$$;

create or replace function public.mnemo_count_link_failures(
    p_platform text,
    p_workspace text,
    p_user_id text,
    p_since timestamptz
)
returns integer
language sql stable security invoker set search_path = ''
as $$
    select count(*)::integer from mnemo.link_failures f
     where f.platform = p_platform and f.workspace = p_workspace and f.user_id = p_user_id
       and f.at >= p_since
$$;

-- Consume the code (false, and nothing changes, if it is used already or belongs to another
-- account), move everything of `source` to `target`, keep the stricter settings, delete `source`.
create or replace function public.mnemo_merge_accounts(
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
begin
    if p_source = p_target then
        raise exception 'mnemo_merge_accounts: source and target must differ' using errcode = '22023';
    end if;
    -- Both rows locked in id order, so two merges between the same accounts cannot deadlock.
    select count(*) into v_locked from (
        select a.id from mnemo.accounts a where a.id in (p_source, p_target) order by a.id for update
    ) locked;
    if v_locked <> 2 then
        raise exception 'mnemo_merge_accounts: unknown account' using errcode = '23503';
    end if;
    update mnemo.link_codes c set used_at = p_now
     where c.code_hash = p_code_hash and c.used_at is null and c.account_id = p_target;
    if not found then
        return false;
    end if;
    update mnemo.identities i set account_id = p_target where i.account_id = p_source;
    update mnemo.messages m set account_id = p_target where m.account_id = p_source;
    update mnemo.pending_memory_writes w set account_id = p_target where w.account_id = p_source;
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

create or replace function public.mnemo_list_identities(p_account_id uuid)
returns setof mnemo.identities
language sql stable security invoker set search_path = ''
as $$
    select * from mnemo.identities i
     where i.account_id = p_account_id
     order by i.created_at, i.platform, i.workspace, i.user_id
$$;

-- Move the identity to a fresh, empty account carrying the old account's name and settings.
create or replace function public.mnemo_detach_identity(
    p_platform text,
    p_workspace text,
    p_user_id text,
    p_now timestamptz
)
returns mnemo.accounts
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_old mnemo.accounts;
    v_new mnemo.accounts;
begin
    select a.* into v_old
      from mnemo.identities i join mnemo.accounts a on a.id = i.account_id
     where i.platform = p_platform and i.workspace = p_workspace and i.user_id = p_user_id
       for update of i;
    if not found then
        raise exception 'mnemo_detach_identity: unknown identity' using errcode = 'P0002';
    end if;
    insert into mnemo.accounts (created_at, display_name) values (p_now, v_old.display_name)
    returning * into v_new;
    if exists (
        select 1 from mnemo.account_settings s where s.account_id = v_old.id and s.memory_paused
    ) then
        insert into mnemo.account_settings (account_id, memory_paused, updated_at)
        values (v_new.id, true, p_now);
    end if;
    update mnemo.identities i set account_id = v_new.id
     where i.platform = p_platform and i.workspace = p_workspace and i.user_id = p_user_id;
    return v_new;
end;
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 4 $$;

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
