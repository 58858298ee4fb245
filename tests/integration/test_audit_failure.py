"""Fail closed, quickly: with no reachable database every append raises `AuditUnavailable`."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime

import pytest

from adapters.db.audit_log import SqlAuditLog
from adapters.db.engine import create_database
from domain.audit import AuditAction, AuditEvent, AuditOutcome, AuditQuery, AuditUnavailable
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


def _event(i: int = 0) -> AuditEvent:
    return AuditEvent(
        actor_id="alice",
        subject_user_id="alice",
        secret_key=f"key-{i}",
        action=AuditAction.READ,
        outcome=AuditOutcome.SUCCESS,
        occurred_at=datetime.now(UTC),
    )


async def test_appends_to_an_unreachable_postgres_fail_closed_and_fast():
    database = create_database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/mirage")
    log = SqlAuditLog(database)
    try:
        started = time.monotonic()
        results = await asyncio.gather(*(log.append(_event(i)) for i in range(20)), return_exceptions=True)
        assert all(isinstance(r, AuditUnavailable) for r in results), results
        with pytest.raises(AuditUnavailable):
            await log.append(_event())
        with pytest.raises(AuditUnavailable):
            await log.query(AuditQuery(subject_user_id="alice"))
        with pytest.raises(AuditUnavailable):
            await log.verify()
        assert time.monotonic() - started < 5
    finally:
        started = time.monotonic()
        await log.close()
        await database.dispose()
        assert time.monotonic() - started < 5


async def test_a_server_that_never_answers_is_bounded_by_the_append_timeout():
    # A listener that accepts TCP connections but never speaks: asyncpg waits for the handshake.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    port = silent.getsockname()[1]
    database = create_database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/mirage")
    log = SqlAuditLog(database, append_timeout=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(AuditUnavailable):
            await log.append(_event())
        assert time.monotonic() - started < 2
    finally:
        started = time.monotonic()
        await log.close(timeout=1)
        await database.dispose()
        silent.close()
        assert time.monotonic() - started < 5


async def test_a_closed_log_refuses_appends(pg_url):
    database = create_database(pg_url)
    log = SqlAuditLog(database)
    try:
        await log.close()
        with pytest.raises(AuditUnavailable):
            await log.append(_event())
    finally:
        await database.dispose()
