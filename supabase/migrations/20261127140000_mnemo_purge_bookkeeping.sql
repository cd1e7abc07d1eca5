-- Bookkeeping retention: processed event ids (dedupe and job-slot claims), failed link attempts and
-- spent or expired link codes grow with every message and job run; Store.purge_bookkeeping deletes
-- the ones older than a cut-off (the purge job keeps 7 days: far past any platform's retries).
-- Schema version 5. Re-runnable, like every Mnemo migration.

create index if not exists processed_events_processed_at_idx on mnemo.processed_events (processed_at);
create index if not exists link_failures_at_idx on mnemo.link_failures (at);

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
    )
    select ((select count(*) from events) + (select count(*) from failures)
            + (select count(*) from codes))::integer
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 5 $$;

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
