"""The audit store as a security boundary, proven as the service's own PostgreSQL role.

`mirage-secrets db upgrade --admin-url <owner>` migrates as the owner and grants the role named
in DATABASE_URL exactly: INSERT and SELECT on the audit tables, nothing else there. Then, as that
role, every way of rewriting the trail fails (and says why), while appending and verifying work;
retention works only as the owner. The role is created on the shared server under a random name
and dropped at the end, with the throwaway database.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from adapters.db.audit_log import SqlAuditLog
from adapters.db.engine import create_database
from domain.audit import AuditAction, AuditEvent, AuditOutcome
from tests.support.postgres import _execute, _run, create_test_database, drop_test_database

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("mirage-secrets"))


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def role_database(pg_admin_url):
    """(owner URL, service URL) of a fresh database and a fresh, unprivileged service role."""
    owner_url = create_test_database(pg_admin_url)
    role = f"mirage_test_svc_{secrets.token_hex(4)}"
    service_url = make_url(owner_url).set(username=role, password=None).render_as_string(hide_password=False)
    try:
        yield owner_url, service_url, role
    finally:
        drop_test_database(pg_admin_url, owner_url)
        # The role's privileges went with the database; nothing else refers to it.
        _run(_execute(pg_admin_url, f'DROP ROLE IF EXISTS "{role}"'))


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _event() -> AuditEvent:
    return AuditEvent(
        actor_id="alice",
        subject_user_id="alice",
        secret_key="k",
        action=AuditAction.READ,
        outcome=AuditOutcome.SUCCESS,
        occurred_at=datetime.now(UTC),
    )


async def test_the_service_role_may_append_and_read_but_never_rewrite_the_trail(role_database):
    owner_url, service_url, role = role_database
    upgraded = cli("db", "upgrade", "--admin-url", owner_url, DATABASE_URL=service_url)
    assert upgraded.returncode == 0, upgraded.stderr
    lines = upgraded.stdout.splitlines()
    assert "database schema is up to date" in lines
    assert f"created role {role} (LOGIN)" in lines
    assert f"granted SELECT, INSERT on audit_events to {role}" in lines
    assert f"granted SELECT, INSERT on audit_segments to {role}" in lines
    assert f"granted SELECT on audit_anchor to {role}" in lines
    assert f"granted SELECT, INSERT, UPDATE, DELETE on secret_index to {role}" in lines

    # Idempotent: a second run changes nothing and says the role exists.
    again = cli("db", "upgrade", "--admin-url", owner_url, DATABASE_URL=service_url)
    assert again.returncode == 0, again.stderr
    assert f"role {role} exists" in again.stdout.splitlines()

    # As the service: appends and verification work.
    database = create_database(service_url)
    log = SqlAuditLog(database)
    try:
        stored = [await log.append(_event()) for _ in range(3)]
    finally:
        await log.close()
    assert (await SqlAuditLog(database).verify()).ok
    await database.dispose()

    connection = await asyncpg.connect(_dsn(service_url))
    refused: dict[str, str] = {}
    try:
        for statement in (
            f"UPDATE audit_events SET reason = 'forged' WHERE id = {stored[0].id}",
            f"DELETE FROM audit_events WHERE id = {stored[0].id}",
            "TRUNCATE audit_events",
            "UPDATE audit_segments SET first_seq = 99",
            "DELETE FROM audit_segments",
            "UPDATE audit_anchor SET prev_hash = 'x'",
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "SET session_replication_role = replica",  # the superuser's way around the triggers
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError) as raised:
                await connection.execute(statement)
            refused[statement.split(" WHERE")[0]] = str(raised.value)
        # Setting the retention flag is just a custom setting: it grants nothing.
        async with connection.transaction():
            await connection.execute("SELECT set_config('mirage.audit_retention', 'on', true)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table audit_events"):
                await connection.execute("DELETE FROM audit_events")
        assert await connection.fetchval("SELECT count(*) FROM audit_events") == 3
    finally:
        await connection.close()
    assert all("permission denied" in message or "must be" in message for message in refused.values()), refused
    print("\n".join(f"{statement}: {message}" for statement, message in refused.items()))  # the proof, in -s runs

    # Retention: refused as the service, done as the owner.
    as_service = cli("audit", "prune", "--older-than", "0d", DATABASE_URL=service_url)
    assert as_service.returncode == 1 and "audit trail unavailable" in as_service.stderr
    as_owner = cli("audit", "prune", "--older-than", "0d", DATABASE_URL=service_url, DATABASE_ADMIN_URL=owner_url)
    assert as_owner.returncode == 0, as_owner.stderr
    assert as_owner.stdout.strip() == "removed 3 audit events older than 0 days"
    verified = cli("audit", "verify", DATABASE_URL=service_url)
    assert verified.returncode == 0 and verified.stdout.strip() == "audit chain OK: 1 events checked"


def test_on_sqlite_db_upgrade_says_there_are_no_roles(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'mirage.sqlite3'}"
    upgraded = cli("db", "upgrade", DATABASE_URL=url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines() == [
        "database schema is up to date",
        "SQLite has no roles: role setup skipped (the file's permissions are the boundary)",
    ]


def test_without_an_admin_url_db_upgrade_warns_that_nothing_is_separated(pg_admin_url):
    url = create_test_database(pg_admin_url)
    try:
        upgraded = cli("db", "upgrade", DATABASE_URL=url)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "no role separation" in upgraded.stdout
    finally:
        drop_test_database(pg_admin_url, url)
