"""The core's tests run on the embedded store by default; the erasure race suite also runs on
Supabase (through the loopback PostgREST shim) with the memory vectors in the same Postgres."""

from __future__ import annotations

from tests.supabase.fixtures import jwt_secret, postgrest_shim, shared_shim, supabase_dsn

__all__ = ["jwt_secret", "postgrest_shim", "shared_shim", "supabase_dsn"]
