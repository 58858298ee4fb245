"""One set of assertions for every `AuditLog`: the in-memory fake, SQLite and PostgreSQL.

The SQL databases are the contract suite's session databases (see conftest.py); the audit tables
are emptied and the anchor reset to genesis before every test. Tampering goes behind the store's
back: on PostgreSQL with `session_replication_role = replica`, which skips the append-only
triggers for that transaction (the test connects as a superuser; the service never does this).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from adapters.db.audit_log import SqlAuditLog
from adapters.db.engine import Database, create_database
from domain.audit import (
    GENESIS_HASH,
    MAX_PAGE_SIZE,
    AuditAction,
    AuditEvent,
    AuditOutcome,
    AuditQuery,
    AuditUnavailable,
    ChainHead,
    ChainVerification,
    StoredAuditEvent,
    encode_cursor,
    event_values,
    segment_genesis,
    segment_hash,
)
from domain.errors import InvalidInput
from domain.ports import AuditLog
from tests.fakes.audit import InMemoryAuditLog

pytestmark = pytest.mark.contract


T0 = datetime(2025, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


@dataclass
class AuditHarness:
    kind: str
    log: AuditLog
    # Behind the store's back: change one row's reason / remove one row.
    tamper: Callable[[int, str], Awaitable[None]]
    remove: Callable[[int], Awaitable[None]]
    reset: Callable[[], Awaitable[None]]
    database: Database | None = None


def event(
    *,
    user: str = "alice",
    key: str | None = "db-password",
    action: AuditAction = AuditAction.READ,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    at: datetime = T0,
    **changes,
) -> AuditEvent:
    fields = {
        "actor_id": user,
        "subject_user_id": user,
        "secret_key": key,
        "secret_type": "custom" if key else None,
        "action": action,
        "outcome": outcome,
        "version": 1,
        "client_ip": "203.0.113.7",
        "user_agent": "pytest/8",
        "request_id": "req-1",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "occurred_at": at,
    }
    fields.update(changes)
    return AuditEvent(**fields)


async def _sql_reset(database: Database) -> None:
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text("SELECT set_config('mirage.audit_retention', 'on', true)"))
        await connection.execute(text("DELETE FROM audit_events"))
        await connection.execute(text("DELETE FROM audit_segments"))
        await connection.execute(
            text("UPDATE audit_anchor SET event_id = 0, prev_hash = :genesis"), {"genesis": GENESIS_HASH}
        )


async def _behind_the_back(database: Database, statement: str, **params) -> None:
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(text(statement), params)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def implementation(request) -> AuditHarness:
    if request.param == "memory":
        fake = InMemoryAuditLog()

        async def tamper(event_id: int, reason: str) -> None:
            i = next(i for i, e in enumerate(fake.events) if e.id == event_id)
            fake.events[i] = msgspec.structs.replace(fake.events[i], reason=reason)

        async def remove(event_id: int) -> None:
            fake.events[:] = [e for e in fake.events if e.id != event_id]

        async def reset() -> None:
            fake.__init__()

        return AuditHarness("memory", fake, tamper, remove, reset)

    database: Database = request.getfixturevalue(
        {"sqlite": "sqlite_database", "postgres": "pg_database"}[request.param]
    )
    return AuditHarness(
        request.param,
        SqlAuditLog(database),
        lambda event_id, reason: _behind_the_back(
            database, "UPDATE audit_events SET reason = :reason WHERE id = :id", reason=reason, id=event_id
        ),
        lambda event_id: _behind_the_back(database, "DELETE FROM audit_events WHERE id = :id", id=event_id),
        lambda: _sql_reset(database),
        database,
    )


@pytest_asyncio.fixture
async def harness(implementation: AuditHarness) -> AsyncIterator[AuditHarness]:
    await implementation.reset()
    yield implementation
    if isinstance(implementation.log, SqlAuditLog):
        await implementation.log.close()


async def page_all(log: AuditLog, **filters) -> list[StoredAuditEvent]:
    return list((await log.query(AuditQuery(limit=MAX_PAGE_SIZE, **filters))).events)


# -- append and the chain -------------------------------------------------------------------


async def test_append_returns_chained_events_that_read_back_unchanged(harness):
    first = await harness.log.append(event(reason="first"))
    second = await harness.log.append(event(action=AuditAction.UPDATE, version=2, at=T0 + timedelta(seconds=1)))

    assert first.segment_id == second.segment_id and (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == segment_genesis(first.segment_id) != GENESIS_HASH
    assert second.prev_hash == first.hash
    assert second.id > first.id
    assert first.hash == segment_hash(first.prev_hash, first.segment_id, 1, event_values(event(reason="first")))
    assert first.to_event() == event(reason="first")
    assert await page_all(harness.log, subject_user_id="alice") == [second, first]
    assert (await harness.log.verify()).ok


async def test_odd_text_is_stored_safely_and_still_verifies(harness):
    weird = event(
        user_agent="Mozilla/5.0 \x00 \ud800 " + "é" * 2000,  # NUL, a lone surrogate, far too long
        reason="line one\nline two | 9:fake",
        client_ip="2001:db8::1",
        key="k" * 255,
    )
    stored = await harness.log.append(weird)

    assert "\x00" not in stored.user_agent and len(stored.user_agent) == 512
    (read_back,) = await page_all(harness.log, subject_user_id="alice")
    assert read_back == stored
    assert (await harness.log.verify()).ok


async def test_concurrent_appends_form_one_unbroken_chain(harness):
    results = await asyncio.gather(
        *(harness.log.append(event(key=f"k{i % 7}", at=T0 + timedelta(milliseconds=i))) for i in range(200))
    )

    assert len({r.id for r in results}) == 200
    # Each writer segment (a PostgreSQL writer may keep two batches in flight, one per segment)
    # is one unbroken run from its genesis.
    for segment_id in {r.segment_id for r in results}:
        run = sorted((r for r in results if r.segment_id == segment_id), key=lambda r: r.seq)
        assert [r.seq for r in run] == list(range(1, len(run) + 1))
        assert run[0].prev_hash == segment_genesis(segment_id)
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(run))
    verification = await harness.log.verify()
    assert (verification.ok, verification.checked) == (True, 200)


# -- queries --------------------------------------------------------------------------------


async def _seed(log: AuditLog) -> list[StoredAuditEvent]:
    specs = [
        ("alice", "db-password", AuditAction.CREATE, AuditOutcome.SUCCESS, 0),
        ("alice", "db-password", AuditAction.READ, AuditOutcome.SUCCESS, 1),
        ("alice", "api-key", AuditAction.READ, AuditOutcome.NOT_FOUND, 2),
        ("bob", "db-password", AuditAction.READ, AuditOutcome.SUCCESS, 3),
        ("alice", "db-password", AuditAction.DELETE, AuditOutcome.DENIED, 4),
        ("alice", "api-key", AuditAction.CREATE, AuditOutcome.SUCCESS, 5),
        ("alice", None, AuditAction.LIST, AuditOutcome.SUCCESS, 6),
    ]
    return [
        await log.append(event(user=u, key=k, action=a, outcome=o, at=T0 + timedelta(hours=h)))
        for u, k, a, o, h in specs
    ]


async def test_query_filters_by_key_action_outcome_and_date_range_newest_first(harness):
    e = await _seed(harness.log)

    assert await page_all(harness.log, subject_user_id="alice") == [e[6], e[5], e[4], e[2], e[1], e[0]]
    assert await page_all(harness.log, subject_user_id="alice", secret_key="db-password") == [e[4], e[1], e[0]]
    assert await page_all(harness.log, subject_user_id="alice", action=AuditAction.READ) == [e[2], e[1]]
    assert await page_all(harness.log, subject_user_id="alice", outcome=AuditOutcome.DENIED) == [e[4]]
    assert await page_all(
        harness.log, subject_user_id="alice", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=5)
    ) == [e[4], e[2], e[1]]  # start inclusive, end exclusive
    assert await page_all(
        harness.log,
        subject_user_id="alice",
        secret_key="api-key",
        action="create",
        outcome="success",
        start=T0,
        end=T0 + timedelta(days=1),
    ) == [e[5]]
    assert await page_all(harness.log, subject_user_id="alice", secret_key="nope") == []


async def test_a_users_query_never_returns_another_users_events(harness):
    e = await _seed(harness.log)

    assert await page_all(harness.log, subject_user_id="bob") == [e[3]]
    for filters in ({}, {"secret_key": "db-password"}, {"action": AuditAction.READ}):
        got = await page_all(harness.log, subject_user_id="alice", **filters)
        assert got and all(x.subject_user_id == "alice" for x in got)
    assert await page_all(harness.log, subject_user_id="carol") == []


async def test_keyset_pages_cover_everything_once_even_with_equal_timestamps(harness):
    appended = [await harness.log.append(event(key=f"k{i % 3}", at=T0 + timedelta(seconds=i // 4))) for i in range(23)]
    await harness.log.append(event(user="bob"))
    expected = sorted(appended, key=lambda x: (x.occurred_at, x.id), reverse=True)

    seen: list[StoredAuditEvent] = []
    cursor = None
    pages = 0
    while True:
        page = await harness.log.query(AuditQuery(subject_user_id="alice", limit=5, cursor=cursor))
        pages += 1
        assert len(page.events) <= 5
        seen.extend(page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert seen == expected

    only_k1 = [x for x in expected if x.secret_key == "k1"]
    first = await harness.log.query(AuditQuery(subject_user_id="alice", secret_key="k1", limit=3))
    rest = await harness.log.query(
        AuditQuery(subject_user_id="alice", secret_key="k1", limit=500, cursor=first.next_cursor)
    )
    assert list(first.events) + list(rest.events) == only_k1 and rest.next_cursor is None


async def test_a_full_last_page_says_so_without_a_cursor(harness):
    for i in range(4):
        await harness.log.append(event(at=T0 + timedelta(seconds=i)))
    page = await harness.log.query(AuditQuery(subject_user_id="alice", limit=4))
    assert (len(page.events), page.next_cursor) == (4, None)


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
def test_limit_outside_bounds_is_invalid(limit):
    with pytest.raises(InvalidInput):
        AuditQuery(subject_user_id="alice", limit=limit)


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "!!!", encode_cursor(T0, 3)[:-3], "MjAyNXwx"])
def test_a_malformed_cursor_is_invalid_input(cursor):
    with pytest.raises(InvalidInput) as raised:
        AuditQuery(subject_user_id="alice", cursor=cursor)
    assert raised.value.field == "cursor"


def test_query_rejects_unknown_filters_and_naive_or_reversed_dates():
    with pytest.raises(InvalidInput):
        AuditQuery(subject_user_id="alice", action="steal")
    with pytest.raises(InvalidInput):
        AuditQuery(subject_user_id="alice", outcome="maybe")
    with pytest.raises(InvalidInput):
        AuditQuery(subject_user_id="alice", start=datetime(2025, 1, 1))
    with pytest.raises(InvalidInput):
        AuditQuery(subject_user_id="alice", start=T0, end=T0 - timedelta(seconds=1))
    with pytest.raises(InvalidInput):
        AuditQuery(subject_user_id="")


async def test_last_access_is_the_newest_successful_value_access_per_key(harness):
    await harness.log.append(event(key="a", action=AuditAction.READ, at=T0))
    await harness.log.append(event(key="a", action=AuditAction.READ_VERSION, at=T0 + timedelta(minutes=5)))
    await harness.log.append(
        event(key="a", action=AuditAction.READ, outcome=AuditOutcome.DENIED, at=T0 + timedelta(hours=1))
    )
    await harness.log.append(event(key="a", action=AuditAction.UPDATE, at=T0 + timedelta(hours=2)))
    await harness.log.append(event(key="b", action=AuditAction.EXPORT, at=T0 + timedelta(minutes=1)))
    await harness.log.append(event(key="c", action=AuditAction.CREATE, at=T0))
    await harness.log.append(event(user="bob", key="a", action=AuditAction.READ, at=T0 + timedelta(days=1)))

    assert await harness.log.last_access("alice", ["a", "b", "c", "zzz"]) == {
        "a": T0 + timedelta(minutes=5),
        "b": T0 + timedelta(minutes=1),
    }
    assert await harness.log.last_access("alice", []) == {}


# -- tamper evidence ------------------------------------------------------------------------


async def test_verify_names_a_tampered_event(harness):
    stored = [await harness.log.append(event(at=T0 + timedelta(seconds=i))) for i in range(6)]
    assert (await harness.log.verify()).ok

    await harness.tamper(stored[3].id, "nothing to see here")

    result = await harness.log.verify()
    assert (result.ok, result.first_broken_id, result.checked) == (False, stored[3].id, 3)
    assert "altered" in result.reason


async def test_verify_names_the_event_after_a_removed_one(harness):
    stored = [await harness.log.append(event(at=T0 + timedelta(seconds=i))) for i in range(6)]

    await harness.remove(stored[2].id)

    result = await harness.log.verify()
    assert (result.ok, result.first_broken_id) == (False, stored[3].id)
    assert "missing" in result.reason


async def test_verify_detects_a_removed_first_event(harness):
    stored = [await harness.log.append(event(at=T0 + timedelta(seconds=i))) for i in range(3)]
    await harness.remove(stored[0].id)
    assert (await harness.log.verify()).first_broken_id == stored[1].id


async def test_verify_of_an_empty_trail_is_ok(harness):
    assert await harness.log.verify() == ChainVerification(ok=True, checked=0)


# -- retention ------------------------------------------------------------------------------


async def test_retention_keeps_the_chain_verifiable_and_is_itself_audited(harness):
    old = [await harness.log.append(event(at=T0 - timedelta(days=40 - i))) for i in range(5)]
    new = [await harness.log.append(event(at=T0 + timedelta(minutes=i))) for i in range(3)]
    cutoff = T0 - timedelta(days=30)

    removed = await harness.log.purge_older_than(cutoff)

    assert removed == len(old)
    assert await page_all(harness.log, subject_user_id="alice") == new[::-1]
    (record,) = await page_all(harness.log, subject_user_id="system", action=AuditAction.RETENTION)
    assert record.actor_id == "system" and "removed 5 events" in record.reason
    verification = await harness.log.verify()
    assert (verification.ok, verification.checked) == (True, 4)

    # The retention event sits in a segment of its own; the writer's segment goes on from its tail.
    assert record.segment_id != new[-1].segment_id and record.prev_hash == segment_genesis(record.segment_id)
    after = await harness.log.append(event(at=T0 + timedelta(hours=1)))
    assert (after.segment_id, after.seq, after.prev_hash) == (new[-1].segment_id, new[-1].seq + 1, new[-1].hash)
    assert (await harness.log.purge_older_than(cutoff)) == 0  # nothing more to remove, still audited
    assert len(await page_all(harness.log, subject_user_id="system")) == 2
    assert (await harness.log.verify()).ok

    # Tampering with the first kept event is still detected after re-anchoring.
    await harness.tamper(new[0].id, "edited")
    assert (await harness.log.verify()).first_broken_id == new[0].id


async def test_retention_of_everything_leaves_only_its_own_event(harness):
    for i in range(4):
        await harness.log.append(event(at=T0 + timedelta(seconds=i)))

    assert await harness.log.purge_older_than(T0 + timedelta(days=1)) == 4

    assert await page_all(harness.log, subject_user_id="alice") == []
    assert (await harness.log.verify()).ok
    await harness.log.append(event())
    assert (await harness.log.verify()).checked == 2


# -- failure and the database's own guard ------------------------------------------------------


async def test_an_unavailable_fake_fails_closed():
    log = InMemoryAuditLog()
    log.available = False
    with pytest.raises(AuditUnavailable):
        await log.append(event())
    assert log.events == []


async def test_on_postgres_the_service_can_neither_update_nor_delete_events(pg_database):
    await _sql_reset(pg_database)
    log = SqlAuditLog(pg_database)
    try:
        stored = await log.append(event())
    finally:
        await log.close()
    for statement in (
        "UPDATE audit_events SET reason = 'x' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
        "TRUNCATE audit_events",
        "UPDATE audit_anchor SET prev_hash = 'x'",
        "DELETE FROM audit_anchor",
        "UPDATE audit_segments SET first_seq = 2",
        "DELETE FROM audit_segments",
        "TRUNCATE audit_segments",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with pg_database.engine.begin() as connection:
                await connection.execute(text(statement), {"id": stored.id})
    # UPDATE stays refused even with the retention setting on.
    async with pg_database.engine.connect() as connection:
        await connection.execute(text("SET mirage.audit_retention = 'on'"))
        with pytest.raises(DBAPIError, match="UPDATE refused"):
            await connection.execute(text("UPDATE audit_events SET reason = 'x'"))
        await connection.rollback()
    assert (await SqlAuditLog(pg_database).verify()).ok


async def test_on_postgres_two_processes_appending_concurrently_keep_one_chain(pg_url, pg_database):
    await _sql_reset(pg_database)
    # Two engines and two writers, as two uvicorn workers would have.
    other_database = create_database(pg_url)
    first, second = SqlAuditLog(pg_database), SqlAuditLog(other_database)
    try:
        results = await asyncio.gather(
            *(
                (first if i % 2 else second).append(event(key=f"k{i % 5}", at=T0 + timedelta(milliseconds=i)))
                for i in range(300)
            )
        )
    finally:
        await first.close()
        await second.close()
        await other_database.dispose()

    assert len({r.id for r in results}) == 300
    verification = await SqlAuditLog(pg_database).verify()
    assert (verification.ok, verification.checked) == (True, 300)


# -- the segmented chain: insertions, whole segments, the witness ----------------------------


@pytest_asyncio.fixture
async def pg_log(pg_database) -> AsyncIterator[SqlAuditLog]:
    """The PostgreSQL store alone, emptied (for rows inserted behind its back with SQL)."""
    await _sql_reset(pg_database)
    log = SqlAuditLog(pg_database)
    yield log
    await log.close()


async def test_verify_detects_a_row_inserted_into_a_segment(pg_log, pg_database):
    stored = [await pg_log.append(event(at=T0 + timedelta(seconds=i))) for i in range(4)]
    # A forged event carrying a plausible link: the next seq, linked to the real tail, but its
    # hash made up (whoever forges it can't make verify accept it without recomputing the hash).
    await _insert_row(pg_database, stored[-1], seq=stored[-1].seq + 1, prev_hash=stored[-1].hash, digest="f" * 64)
    result = await pg_log.verify()
    assert (result.ok, result.checked) == (False, 4) and "altered" in result.reason

    # A well-hashed event in the middle of a segment needs a seq already taken: refused outright.
    with pytest.raises(DBAPIError, match="ux_audit_events_segment_seq"):
        await _insert_row(pg_database, stored[1], seq=2, prev_hash=stored[0].hash, digest=stored[1].hash)


async def test_verify_detects_rows_of_a_segment_that_was_never_registered(pg_log, pg_database):
    await pg_log.append(event())
    forged_segment = 10**9
    forged = event(reason="forged")
    prev = segment_genesis(forged_segment)
    digest = segment_hash(prev, forged_segment, 1, event_values(forged))
    await _insert_row(pg_database, forged, seq=1, prev_hash=prev, digest=digest, segment_id=forged_segment)
    result = await pg_log.verify()
    assert not result.ok and "never registered" in result.reason


async def test_a_witnessed_head_catches_removed_newest_events(harness):
    stored = [await harness.log.append(event(at=T0 + timedelta(seconds=i))) for i in range(5)]
    head = {stored[-1].segment_id: ChainHead(stored[-1].seq, stored[-1].hash)}
    verified = await harness.log.verify(head)
    assert (verified.ok, verified.witnessed) == (True, 1)

    # Without the witness, removing the newest events leaves a shorter chain that still verifies.
    await harness.remove(stored[-1].id)
    await harness.remove(stored[-2].id)
    assert (await harness.log.verify()).ok
    result = await harness.log.verify(head)
    assert not result.ok and "newest events were removed" in result.reason


async def test_a_witnessed_head_catches_a_rewritten_tail(harness):
    stored = [await harness.log.append(event(at=T0 + timedelta(seconds=i))) for i in range(3)]
    head = {stored[-1].segment_id: ChainHead(stored[-1].seq, "0" * 64)}  # the witness saw another chain
    result = await harness.log.verify(head)
    assert (result.ok, result.first_broken_id) == (False, stored[-1].id) and "witnessed" in result.reason


async def test_retention_past_a_witnessed_head_is_not_a_removal(harness):
    old = [await harness.log.append(event(at=T0 - timedelta(days=40 - i))) for i in range(3)]
    head = {old[-1].segment_id: ChainHead(old[-1].seq, old[-1].hash)}
    await harness.log.purge_older_than(T0 - timedelta(days=30))
    assert (await harness.log.verify(head)).ok


async def _insert_row(
    database: Database | None,
    source: AuditEvent,
    *,
    seq: int,
    prev_hash: str,
    digest: str,
    segment_id: int | None = None,
) -> None:
    assert database is not None
    segment = segment_id if segment_id is not None else source.segment_id  # type: ignore[attr-defined]
    await _behind_the_back(
        database,
        "INSERT INTO audit_events (segment_id, seq, occurred_at, actor_id, actor_is_admin, subject_user_id, "
        "secret_key, secret_type, action, outcome, reason, version, client_ip, user_agent, request_id, trace_id, "
        "prev_hash, hash) VALUES (:segment, :seq, :at, :actor, false, :subject, :key, :type, :action, :outcome, "
        ":reason, :version, :ip, :agent, :request, :trace, :prev, :hash)",
        segment=segment,
        seq=seq,
        at=source.occurred_at,
        actor=source.actor_id,
        subject=source.subject_user_id,
        key=source.secret_key,
        type=source.secret_type,
        action=source.action.value,
        outcome=source.outcome.value,
        reason=source.reason,
        version=source.version,
        ip=source.client_ip,
        agent=source.user_agent,
        request=source.request_id,
        trace=source.trace_id,
        prev=prev_hash,
        hash=digest,
    )
