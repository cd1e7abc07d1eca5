-- What a Supabase project has before any migration runs, reduced to what Mnemo's migrations touch:
-- the API roles (service_role bypasses RLS) and the default privileges Supabase grants in `public`
-- (every new table and function there is granted to anon and authenticated). Tests apply this to a
-- fresh database so the migrations are checked against the same starting point as a real project.
do $$
declare
    role_name text;
begin
    foreach role_name in array array['anon', 'authenticated', 'service_role'] loop
        begin
            if not exists (select 1 from pg_catalog.pg_roles where rolname = role_name) then
                execute format('create role %I nologin noinherit', role_name);
            end if;
        exception when duplicate_object or unique_violation then
            null;  -- another test run created it at the same moment
        end;
    end loop;
end;
$$;
alter role service_role bypassrls;

create schema if not exists extensions;  -- where Supabase installs extensions (pgvector)
grant usage on schema extensions to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
