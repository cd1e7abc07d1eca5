-- Find an identity's account without creating one: `python -m bot admin export|erase` name a
-- person by platform and user id, and a mistyped id must not become an account. Schema version 9.
-- Re-runnable.

create or replace function public.mnemo_find_account(p_platform text, p_workspace text, p_user_id text)
returns setof mnemo.accounts
language sql stable security invoker set search_path = ''
as $$
    select a.*
      from mnemo.identities i
      join mnemo.accounts a on a.id = i.account_id
     where i.platform = p_platform and i.workspace = p_workspace and i.user_id = p_user_id
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 9 $$;

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
