-- Completing a pending memory write reports whether the row was still there: when "forget all"
-- erased it while the retry job was writing, the job undoes the memories it just added (the write
-- must not outlive the erasure). A new function, so re-running the migration changes nothing; the
-- old mnemo_complete_pending_write stays for older bots. Schema version 6. Re-runnable.

create or replace function public.mnemo_finish_pending_write(p_write_id uuid)
returns boolean
language sql volatile security invoker set search_path = ''
as $$
    with finished as (
        delete from mnemo.pending_memory_writes w where w.id = p_write_id returning 1
    )
    select exists (select 1 from finished)
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 6 $$;

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
