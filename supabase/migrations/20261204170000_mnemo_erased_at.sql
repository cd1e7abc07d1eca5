-- When an account was last erased. A message received before that moment but answered only now
-- (it waited in the intake, or a worker took it over after another died) belongs to what the
-- person erased: the bot stores nothing of it and withdraws its answer. Schema version 8.
-- Re-runnable.

alter table mnemo.accounts add column if not exists erased_at timestamptz;

create or replace function public.mnemo_erase_account(p_account_id uuid)
returns integer
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_erased integer;
begin
    update mnemo.accounts a set epoch = a.epoch + 1, erased_at = now() where a.id = p_account_id;
    delete from mnemo.pending_memory_writes w where w.account_id = p_account_id;
    update mnemo.link_codes c set reserved_by = null, reserved_at = null where c.reserved_by = p_account_id;
    with erased as (
        delete from mnemo.messages m where m.account_id = p_account_id returning 1
    )
    select count(*)::integer into v_erased from erased;
    return v_erased;
end;
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 8 $$;

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
