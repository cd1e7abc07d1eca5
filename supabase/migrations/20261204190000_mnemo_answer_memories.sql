-- An answer's provenance: the ids of the memories recalled for it, kept on the answer's own row, so
-- it goes wherever the message goes (erasure, a deleted conversation, the retention purge). Ids
-- only: the memories' text stays in the memory store. Schema version 10. Re-runnable.

alter table mnemo.messages add column if not exists memory_ids text[];

-- Like mnemo_append_message_at_epoch, with the recalled memory ids.
create or replace function public.mnemo_append_answer_at_epoch(
    p_session_id uuid,
    p_account_id uuid,
    p_epoch bigint,
    p_text text,
    p_now timestamptz,
    p_memory_ids text[]
)
returns mnemo.messages
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_epoch bigint;
    v_message mnemo.messages;
begin
    if p_epoch is null then
        raise exception 'mnemo_append_answer_at_epoch: epoch is required' using errcode = '22023';
    end if;
    if cardinality(p_memory_ids) > 100 then
        raise exception 'mnemo_append_answer_at_epoch: at most 100 memory ids' using errcode = '22023';
    end if;
    select a.epoch into v_epoch from mnemo.accounts a where a.id = p_account_id for share;
    if not found then
        raise exception 'mnemo_append_answer_at_epoch: unknown account' using errcode = '23503';
    end if;
    if v_epoch <> p_epoch then
        raise exception 'mnemo: the account was erased after this work began' using errcode = 'MN001';
    end if;
    insert into mnemo.messages (session_id, account_id, role, text, created_at, memory_ids)
    values (p_session_id, p_account_id, 'assistant', p_text, p_now, p_memory_ids)
    returning * into v_message;
    return v_message;
end;
$$;

-- The memory ids behind the latest answer to an account in one channel (any thread or session of
-- it); no row when none is stored there, an empty array for an answer that recalled nothing.
create or replace function public.mnemo_last_answer_memories(
    p_account_id uuid,
    p_platform text,
    p_workspace text,
    p_channel text
)
returns table (memory_ids text[])
language sql stable security invoker set search_path = ''
as $$
    select coalesce(m.memory_ids, '{}'::text[])
      from mnemo.messages m
      join mnemo.sessions s on s.id = m.session_id
     where m.account_id = p_account_id
       and m.role = 'assistant'
       and s.platform = p_platform
       and s.workspace = p_workspace
       and s.channel = p_channel
     order by m.seq desc
     limit 1
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 10 $$;

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
