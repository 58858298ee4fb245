"""The chain heads witnessed in Vault: removing the newest events is caught by `audit verify`.

A throwaway PostgreSQL database and the session's OpenBao; the witness lives at a path of its
own (AUDIT_WITNESS_PATH), so no other test's segments are compared with this database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.db.audit_log import SqlAuditLog
from adapters.db.engine import create_database
from adapters.db.migrate import upgrade
from adapters.vault.audit_witness import VaultChainWitness
from domain.audit import AuditAction, AuditEvent, AuditOutcome, ChainHead
from tests.support.openbao import MOUNT
from tests.support.postgres import create_test_database, drop_test_database

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("mirage-secrets"))


@pytest.fixture
def audit_db(pg_admin_url):
    url = create_test_database(pg_admin_url)
    try:
        upgrade(url)
        yield url
    finally:
        drop_test_database(pg_admin_url, url)


@pytest.fixture
def witness_path() -> str:
    return f"service/audit-witness-test-{secrets.token_hex(4)}"


def verify(url: str, openbao, path: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": url,
        "VAULT_ADDR": openbao.addr,
        "VAULT_TOKEN": openbao.root_token,
        "VAULT_MOUNT": MOUNT,
        "AUDIT_WITNESS_PATH": path,
    }
    return subprocess.run([CLI, "audit", "verify", *extra], env=env, capture_output=True, text=True, timeout=60)


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        actor_id="alice",
        subject_user_id="alice",
        secret_key=f"key-{i}",
        action=AuditAction.READ,
        outcome=AuditOutcome.SUCCESS,
        occurred_at=datetime.now(UTC) - timedelta(seconds=10 - i),
    )


async def test_removing_the_newest_events_is_caught_against_the_witness(audit_db, hvac_vault, openbao, witness_path):
    database = create_database(audit_db)
    log = SqlAuditLog(database, witness=VaultChainWitness(hvac_vault, witness_path), witness_interval=3600)
    try:
        stored = [await log.append(_event(i)) for i in range(5)]
    finally:
        await log.close()  # publishes the final heads
        await database.dispose()
    head = stored[-1]
    assert await VaultChainWitness(hvac_vault, witness_path).latest() == {head.segment_id: ChainHead(5, head.hash)}

    ok = verify(audit_db, openbao, witness_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "audit chain OK: 5 events checked, 1 witnessed segment heads matched"

    # Someone with the owner's (or a superuser's) credentials drops the two newest events.
    engine = create_async_engine(audit_db, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(text(f"DELETE FROM audit_events WHERE id IN ({stored[3].id}, {stored[4].id})"))
    await engine.dispose()

    database_only = verify(audit_db, openbao, witness_path, "--no-witness")
    assert database_only.returncode == 0  # the shorter chain links: only the witness can tell
    assert "removed newest events would go unnoticed" in database_only.stderr
    caught = verify(audit_db, openbao, witness_path)
    assert caught.returncode == 1
    assert f"segment {head.segment_id} lacks its witnessed head (seq 5)" in caught.stdout
    assert "the newest events were removed" in caught.stdout


async def test_the_writer_publishes_its_head_at_the_interval(audit_db, hvac_vault, witness_path):
    database = create_database(audit_db)
    witness = VaultChainWitness(hvac_vault, witness_path)
    log = SqlAuditLog(database, witness=witness, witness_interval=0.2)
    try:
        first = await log.append(_event(0))
        deadline = time.monotonic() + 10
        while await witness.latest() != {first.segment_id: ChainHead(1, first.hash)}:
            assert time.monotonic() < deadline, "the head was not published"
            await asyncio.sleep(0.1)
        second = await log.append(_event(1))
        while (await witness.latest()).get(first.segment_id) != ChainHead(2, second.hash):
            assert time.monotonic() < deadline, "the moved head was not published"
            await asyncio.sleep(0.1)
    finally:
        await log.close()
        await database.dispose()


def test_an_unreachable_witness_is_one_line_and_exit_1(audit_db, witness_path):
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": audit_db,
        "VAULT_ADDR": "http://127.0.0.1:9",
        "VAULT_TOKEN": "x",
        "AUDIT_WITNESS_PATH": witness_path,
    }
    result = subprocess.run([CLI, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("mirage-secrets: audit witness unavailable")
    assert len(result.stderr.strip().splitlines()) == 1
