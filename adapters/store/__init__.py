"""SQL implementation of the resource store (SQLite embedded, PostgreSQL in production)."""
