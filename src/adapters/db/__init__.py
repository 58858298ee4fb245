"""SQL adapters: the metadata index and the users table (PostgreSQL in production, SQLite locally)."""

from adapters.db.engine import Database, create_database
from adapters.db.repositories import SqlSecretIndex, SqlUserDirectory

__all__ = ["Database", "SqlSecretIndex", "SqlUserDirectory", "create_database"]

# Registers audit_events/audit_anchor on Base.metadata, which Alembic and the schema check compare.
from adapters.db import audit_models as audit_models
