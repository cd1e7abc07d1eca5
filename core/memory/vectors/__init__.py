"""mem0's vectors, partitioned by account: `sqlite` (DATA_DIR) and `postgres` (SUPABASE_DB_URL) behave
the same (tests/core/memory/vectors/test_contract.py); `base` holds the code they share. The Postgres
store's connections are `postgres_pool`'s and its table `postgres_schema`'s."""
