"""`mirage-secrets audit verify|prune|purge`, run as an operator (or cron) would, on throwaway databases."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.db.audit_log import SqlAuditLog
from adapters.db.engine import create_database
from adapters.db.migrate import upgrade
from domain.audit import AuditAction, AuditEvent, AuditOutcome

pytestmark = pytest.mark.integration


pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("mirage-secrets"))


def run(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "audit", *args],
        env={"PATH": os.environ["PATH"], "DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def audit_db(fresh_pg_url):
    return fresh_pg_url


async def append(url: str, count: int, *, days_ago: float = 0) -> list[int]:
    database = create_database(url)
    log = SqlAuditLog(database)
    at = datetime.now(UTC) - timedelta(days=days_ago)
    try:
        stored = [
            await log.append(
                AuditEvent(
                    actor_id="alice",
                    subject_user_id="alice",
                    secret_key=f"key-{i}",
                    action=AuditAction.READ,
                    outcome=AuditOutcome.SUCCESS,
                    occurred_at=at - timedelta(seconds=count - i),
                )
            )
            for i in range(count)
        ]
    finally:
        await log.close()
        await database.dispose()
    return [event.id for event in stored]


async def execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_verify_passes_then_names_the_first_tampered_row(audit_db):
    ids = await append(audit_db, 5)
    ok = run("verify", database_url=audit_db)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "audit chain OK: 5 events checked"

    # The append-only trigger stops this for the service; a superuser bypassing triggers doesn't.
    await execute(
        audit_db,
        "SET LOCAL session_replication_role = replica",
        f"UPDATE audit_events SET secret_key = 'forged' WHERE id = {ids[2]}",
    )
    broken = run("verify", database_url=audit_db)
    assert broken.returncode == 1
    assert f"BROKEN at event {ids[2]}" in broken.stdout
    assert "altered" in broken.stdout and "2 events verified before it" in broken.stdout


async def test_the_trigger_refuses_tampering_without_the_bypass(audit_db):
    ids = await append(audit_db, 1)
    with pytest.raises(DBAPIError, match=r"audit_events is append-only: UPDATE refused"):
        await execute(audit_db, f"UPDATE audit_events SET secret_key = 'forged' WHERE id = {ids[0]}")
    assert run("verify", database_url=audit_db).returncode == 0


async def test_a_removed_row_is_named_too(audit_db):
    ids = await append(audit_db, 4)
    await execute(
        audit_db, "SET LOCAL session_replication_role = replica", f"DELETE FROM audit_events WHERE id = {ids[1]}"
    )
    broken = run("verify", database_url=audit_db)
    assert broken.returncode == 1 and f"BROKEN at event {ids[2]}" in broken.stdout and "missing" in broken.stdout


async def test_purge_days_0_removes_everything_and_the_chain_still_verifies(audit_db):
    await append(audit_db, 6)
    purged = run("purge", "--days", "0", database_url=audit_db)
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.strip() == "removed 6 audit events older than 0 days"
    verified = run("verify", database_url=audit_db)
    assert verified.returncode == 0, verified.stdout
    assert verified.stdout.strip() == "audit chain OK: 1 events checked"  # the retention event

    await append(audit_db, 2)  # the chain goes on from the new anchor
    assert run("verify", database_url=audit_db).stdout.strip() == "audit chain OK: 3 events checked"


async def test_purge_keeps_the_retention_period_from_the_environment_or_30_days(audit_db):
    await append(audit_db, 3, days_ago=45)
    await append(audit_db, 2, days_ago=20)
    await append(audit_db, 2)

    assert run("purge", database_url=audit_db).stdout.strip() == "removed 3 audit events older than 30 days"
    by_env = run("purge", database_url=audit_db, AUDIT_RETENTION_DAYS="10")
    assert by_env.stdout.strip() == "removed 2 audit events older than 10 days"
    flag_wins = run("purge", "--days", "5", database_url=audit_db, AUDIT_RETENTION_DAYS="0")
    # --days wins: AUDIT_RETENTION_DAYS=0 would have removed everything.
    assert flag_wins.stdout.strip() == "removed 0 audit events older than 5 days"
    verified = run("verify", database_url=audit_db)
    assert verified.returncode == 0 and verified.stdout.strip() == "audit chain OK: 5 events checked"


def test_errors_are_one_line():
    unreachable = run("verify", database_url="postgresql+asyncpg://postgres@127.0.0.1:9/none")
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("mirage-secrets: audit trail unavailable")
    assert len(unreachable.stderr.strip().splitlines()) == 1 and "Traceback" not in unreachable.stderr

    for args, env in [(("purge", "--days", "-1"), {}), (("purge",), {"AUDIT_RETENTION_DAYS": "a month"})]:
        bad = run(*args, database_url="sqlite+aiosqlite:///:memory:", **env)
        assert bad.returncode == 2 and bad.stderr.startswith("mirage-secrets: configuration error")
        assert len(bad.stderr.strip().splitlines()) == 1

    missing = subprocess.run([CLI, "audit", "verify"], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True)
    assert missing.returncode == 2 and "DATABASE_URL" in missing.stderr


def test_verify_and_purge_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.sqlite3'}"
    upgrade(url)
    assert run("verify", database_url=url).stdout.strip() == "audit chain OK: 0 events checked"
    assert run("purge", database_url=url).stdout.strip() == "removed 0 audit events older than 30 days"
    assert run("verify", database_url=url).stdout.strip() == "audit chain OK: 1 events checked"
