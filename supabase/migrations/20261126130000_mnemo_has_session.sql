-- Store.has_session: has the bot ever had a session in this conversation (open or closed)? Adapters
-- use it to keep following a thread they joined, also after a restart. Schema version 2.
-- Re-runnable, like every Mnemo migration.

create index if not exists sessions_conversation_idx
    on mnemo.sessions (platform, workspace, channel, thread);

create or replace function public.mnemo_has_session(
    p_platform text,
    p_workspace text,
    p_channel text,
    p_thread text
)
returns boolean
language sql stable security invoker set search_path = ''
as $$
    select exists (
        select 1 from mnemo.sessions s
         where s.platform = p_platform and s.workspace = p_workspace and s.channel = p_channel
           and s.thread = coalesce(p_thread, '')
    )
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 2 $$;

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
