#!/usr/bin/env bash
# Start the machine's PostgreSQL if it is not answering on 127.0.0.1:5432 (the Supabase-store and
# scheduler tests run against a real Postgres). Set MNEMO_TEST_PG_DSN to use another server.
set -u
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
