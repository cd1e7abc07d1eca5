-- Model tokens per account, workspace and UTC day (core.budget: DAILY_TOKEN_BUDGET_PER_PERSON and
-- DAILY_TOKEN_BUDGET_PER_WORKSPACE, and /memory usage). A row with no account holds the tokens of
-- erased accounts: they still count towards their workspace's day, without saying whose they were.
-- Erasure and merging reach these rows by triggers, so the erase and merge functions stay as they
-- are: an epoch move (mnemo_erase_account) folds the account's rows into the anonymous ones; a merge
-- record (mnemo_merge_accounts_reserved) moves the source's rows to the target. Schema version 12.
-- Re-runnable.

create table if not exists mnemo.token_usage (
    day date not null,
    platform text not null check (platform <> ''),
    workspace text not null,
    account_id uuid,
    tokens bigint not null check (tokens >= 0)
);
create unique index if not exists token_usage_key
    on mnemo.token_usage (day, platform, workspace, account_id) nulls not distinct;
create index if not exists token_usage_account_idx on mnemo.token_usage (account_id, day);
alter table mnemo.token_usage enable row level security;
revoke all on mnemo.token_usage from public, anon, authenticated;
grant select, insert, update, delete on mnemo.token_usage to service_role;

create or replace function public.mnemo_add_usage(
    p_account_id uuid, p_platform text, p_workspace text, p_day date, p_tokens integer
)
returns integer
language plpgsql volatile security invoker set search_path = ''
as $$
begin
    if p_tokens is null or p_tokens < 0 then
        raise exception 'mnemo_add_usage: tokens must be >= 0' using errcode = '22023';
    end if;
    insert into mnemo.token_usage as u (day, platform, workspace, account_id, tokens)
    values (p_day, p_platform, p_workspace, p_account_id, p_tokens)
    on conflict (day, platform, workspace, account_id) do update set tokens = u.tokens + excluded.tokens;
    return p_tokens;
end;
$$;

create or replace function public.mnemo_daily_usage(
    p_account_id uuid, p_platform text, p_workspace text, p_day date
)
returns json
language sql stable security invoker set search_path = ''
as $$
    select json_build_object(
        'person', (select coalesce(sum(u.tokens), 0)::bigint from mnemo.token_usage u
                    where u.account_id = p_account_id and u.day = p_day),
        'workspace', (select coalesce(sum(u.tokens), 0)::bigint from mnemo.token_usage u
                       where u.day = p_day and u.platform = p_platform and u.workspace = p_workspace)
    )
$$;

-- Trigger functions live in the private schema: not callable through the Data API.
create or replace function mnemo.fold_erased_usage()
returns trigger
language plpgsql volatile security invoker set search_path = ''
as $$
begin
    insert into mnemo.token_usage as u (day, platform, workspace, account_id, tokens)
    select t.day, t.platform, t.workspace, null, t.tokens from mnemo.token_usage t
     where t.account_id = new.id
    on conflict (day, platform, workspace, account_id) do update set tokens = u.tokens + excluded.tokens;
    delete from mnemo.token_usage t where t.account_id = new.id;
    return null;
end;
$$;

create or replace trigger accounts_erased_fold_usage
    after update of epoch on mnemo.accounts
    for each row when (new.epoch is distinct from old.epoch)
    execute function mnemo.fold_erased_usage();

create or replace function mnemo.move_merged_usage()
returns trigger
language plpgsql volatile security invoker set search_path = ''
as $$
begin
    insert into mnemo.token_usage as u (day, platform, workspace, account_id, tokens)
    select t.day, t.platform, t.workspace, new.target, t.tokens from mnemo.token_usage t
     where t.account_id = new.source
    on conflict (day, platform, workspace, account_id) do update set tokens = u.tokens + excluded.tokens;
    delete from mnemo.token_usage t where t.account_id = new.source;
    return null;
end;
$$;

create or replace trigger account_merges_move_usage
    after insert or update on mnemo.account_merges
    for each row execute function mnemo.move_merged_usage();

revoke all on function mnemo.fold_erased_usage() from public, anon, authenticated;
revoke all on function mnemo.move_merged_usage() from public, anon, authenticated;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 12 $$;

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
