from __future__ import annotations

from tests.supabase.fixtures import jwt_secret, postgrest_shim, private_shim, shared_shim, supabase_dsn

__all__ = ["jwt_secret", "postgrest_shim", "private_shim", "shared_shim", "supabase_dsn"]
