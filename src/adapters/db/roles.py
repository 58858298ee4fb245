"""The database roles: the service may INSERT and SELECT audit events and nothing else on them.

`apply_service_grants` runs as the tables' owner (after the migrations, from `db upgrade`) and
makes the role named in the service's DATABASE_URL exist with exactly these privileges:

- the application tables (the secret index, users, accounts, environments): SELECT, INSERT,
  UPDATE, DELETE;
- `audit_events`, `audit_segments`: SELECT, INSERT only (no UPDATE, DELETE, TRUNCATE: the
  retention job runs as the owner, `audit prune`);
- `audit_anchor`, `alembic_version`: SELECT only;
- the sequences: USAGE, SELECT (BIGSERIAL ids).

Idempotent: privileges on every table are revoked and granted again each run, so a grant added
by hand is taken away; the role is created only when missing (its password, if the URL has one,
is set then). Returns one line per thing done, for the command to print.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

APPEND_ONLY_TABLES = ("audit_events", "audit_segments")
READ_ONLY_TABLES = ("audit_anchor", "alembic_version")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def apply_service_grants(admin_url: str, service_url: str) -> list[str]:
    """Create/grant the service's role on PostgreSQL; on SQLite there are no roles (one line
    saying so)."""
    service, admin = make_url(service_url), make_url(admin_url)
    if service.get_backend_name() != "postgresql":
        return ["SQLite has no roles: role setup skipped (the file's permissions are the boundary)"]
    role = service.username or ""
    owner = admin.username or ""
    if not role or role == owner:
        warning = (
            f"the service connects as the tables' owner ({role or 'default user'}): no role separation; "
            "set DATABASE_ADMIN_URL (or --admin-url) to the owner and DATABASE_URL to a separate role"
        )
        return [warning]
    done: list[str] = []
    engine = create_async_engine(admin_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            exists = await connection.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role})
            if exists is None:
                password = f" PASSWORD {_literal(service.password)}" if service.password else ""
                await connection.execute(text(f"CREATE ROLE {_ident(role)} LOGIN{password}"))
                done.append(f"created role {role} (LOGIN)")
            elif exists:
                done.append(f"WARNING: role {role} is a superuser: no grant can limit it")
            else:
                done.append(f"role {role} exists")
            database = await connection.scalar(text("SELECT current_database()"))
            await connection.execute(text(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {_ident(role)}"))
            await connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {_ident(role)}"))
            tables = (
                await connection.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
                )
            ).all()
            for table in tables:
                await connection.execute(text(f"REVOKE ALL ON TABLE {_ident(table)} FROM {_ident(role)}"))
                if table in APPEND_ONLY_TABLES:
                    privileges = "SELECT, INSERT"
                elif table in READ_ONLY_TABLES:
                    privileges = "SELECT"
                else:
                    privileges = "SELECT, INSERT, UPDATE, DELETE"
                await connection.execute(text(f"GRANT {privileges} ON TABLE {_ident(table)} TO {_ident(role)}"))
                done.append(f"granted {privileges} on {table} to {role}")
            await connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {_ident(role)}"))
            done.append(f"granted USAGE, SELECT on all sequences to {role}")
    finally:
        await engine.dispose()
    return done
