-- Ratings of answers (Slack's feedback buttons in the assistant pane): one row per account and
-- answer, ids only, no text. Erased with the account (mnemo_erase_account below adds it); a merged
-- account's ratings go with the account (on delete cascade). Schema version 11.
-- Re-runnable.

create table if not exists mnemo.answer_feedback (
    account_id uuid not null references mnemo.accounts (id) on delete cascade,
    answer text not null check (answer <> '' and length(answer) <= 300),
    rating text not null check (rating in ('good', 'bad')),
    at timestamptz not null,
    primary key (account_id, answer)
);

alter table mnemo.answer_feedback enable row level security;
revoke all on all tables in schema mnemo from public, anon, authenticated;
grant select, insert, update, delete on all tables in schema mnemo to service_role;

create or replace function public.mnemo_record_feedback(
    p_account_id uuid,
    p_answer text,
    p_rating text,
    p_now timestamptz
)
returns void
language sql volatile security invoker set search_path = ''
as $$
    insert into mnemo.answer_feedback (account_id, answer, rating, at)
    values (p_account_id, p_answer, p_rating, p_now)
    on conflict (account_id, answer) do update set rating = excluded.rating, at = excluded.at
$$;

create or replace function public.mnemo_list_feedback(p_account_id uuid)
returns setof mnemo.answer_feedback
language sql stable security invoker set search_path = ''
as $$
    select * from mnemo.answer_feedback f where f.account_id = p_account_id
     order by f.at desc, f.answer
$$;

create or replace function public.mnemo_erase_account(p_account_id uuid)
returns integer
language plpgsql volatile security invoker set search_path = ''
as $$
declare
    v_erased integer;
begin
    update mnemo.accounts a set epoch = a.epoch + 1, erased_at = now() where a.id = p_account_id;
    delete from mnemo.pending_memory_writes w where w.account_id = p_account_id;
    delete from mnemo.answer_feedback f where f.account_id = p_account_id;
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
as $$ select 11 $$;

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
