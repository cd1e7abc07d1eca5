-- The HTTP API's sessions: list the conversations of one channel, read a conversation's messages
-- across all its sessions, delete a conversation. (Web sessions are conversations keyed
-- ('web', '', <token sub>, <session uuid>), so a person's sessions are exactly the conversations of
-- their channel: no new table.) Schema version 3. Re-runnable, like every Mnemo migration.

create or replace function public.mnemo_list_conversations(
    p_platform text,
    p_workspace text,
    p_channel text,
    p_offset integer,
    p_limit integer
)
returns jsonb
language plpgsql stable security invoker set search_path = ''
as $$
declare
    v_total integer;
    v_items jsonb;
begin
    if p_offset is null or p_offset < 0 or p_limit is null or p_limit < 0 then
        raise exception 'mnemo_list_conversations: offset and limit must be >= 0' using errcode = '22023';
    end if;
    select count(distinct s.thread)::integer into v_total
      from mnemo.sessions s
     where s.platform = p_platform and s.workspace = p_workspace and s.channel = p_channel;
    select coalesce(jsonb_agg(to_jsonb(c) - 'ord' order by c.ord), '[]'::jsonb) into v_items
      from (
        select g.thread, g.opened_at, g.last_active_at, g.ord,
               (select count(*)::integer
                  from mnemo.messages m join mnemo.sessions s on s.id = m.session_id
                 where s.platform = p_platform and s.workspace = p_workspace
                   and s.channel = p_channel and s.thread = g.thread) as message_count,
               (select left(m.text, 120)
                  from mnemo.messages m join mnemo.sessions s on s.id = m.session_id
                 where s.platform = p_platform and s.workspace = p_workspace
                   and s.channel = p_channel and s.thread = g.thread
                 order by s.opened_at, s.id, m.seq
                 limit 1) as preview
          from (
            select s.thread, min(s.opened_at) as opened_at, max(s.last_active_at) as last_active_at,
                   row_number() over (order by max(s.last_active_at) desc, s.thread) as ord
              from mnemo.sessions s
             where s.platform = p_platform and s.workspace = p_workspace and s.channel = p_channel
             group by s.thread
             order by ord
            offset p_offset
             limit p_limit
          ) g
      ) c;
    return jsonb_build_object('total', v_total, 'items', v_items);
end;
$$;

create or replace function public.mnemo_conversation_messages(
    p_platform text,
    p_workspace text,
    p_channel text,
    p_thread text,
    p_offset integer,
    p_limit integer
)
returns jsonb
language plpgsql stable security invoker set search_path = ''
as $$
declare
    v_total integer;
    v_items jsonb;
begin
    if p_offset is null or p_offset < 0 or p_limit is null or p_limit < 0 then
        raise exception 'mnemo_conversation_messages: offset and limit must be >= 0' using errcode = '22023';
    end if;
    select count(*)::integer into v_total
      from mnemo.messages m join mnemo.sessions s on s.id = m.session_id
     where s.platform = p_platform and s.workspace = p_workspace and s.channel = p_channel
       and s.thread = coalesce(p_thread, '');
    select coalesce(jsonb_agg(to_jsonb(page) - 'ord' order by page.ord), '[]'::jsonb) into v_items
      from (
        select m.*, row_number() over (order by s.opened_at, s.id, m.seq) as ord
          from mnemo.messages m join mnemo.sessions s on s.id = m.session_id
         where s.platform = p_platform and s.workspace = p_workspace and s.channel = p_channel
           and s.thread = coalesce(p_thread, '')
         order by ord
        offset p_offset
         limit p_limit
      ) page;
    return jsonb_build_object('total', v_total, 'items', v_items);
end;
$$;

-- Messages go with their sessions (on delete cascade).
create or replace function public.mnemo_delete_conversation(
    p_platform text,
    p_workspace text,
    p_channel text,
    p_thread text
)
returns integer
language sql volatile security invoker set search_path = ''
as $$
    with deleted as (
        delete from mnemo.sessions s
         where s.platform = p_platform and s.workspace = p_workspace and s.channel = p_channel
           and s.thread = coalesce(p_thread, '')
        returning 1
    )
    select count(*)::integer from deleted
$$;

create or replace function public.mnemo_ping()
returns integer
language sql stable security invoker set search_path = ''
as $$ select 3 $$;

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
