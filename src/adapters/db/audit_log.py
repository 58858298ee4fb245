"""SQL implementation of the `AuditLog` port: an append-only, hash-chained trail.

Appends. Each event's hash covers its predecessor's hash, so appends must be applied one chain at
a time. In this process they go through ONE writer task: callers put (event, future) on a queue;
the writer takes whatever is queued (up to `max_batch`), and in ONE transaction locks the chain,
reads the chain's tail, hashes the batch, inserts it, commits, and only then resolves each
caller's future. So `await append(...)` returns after the event is durable, and a database
failure reaches every waiting caller as `AuditUnavailable` (fail closed). Concurrent appenders
share commits (group commit), which is what makes fail-closed auditing cheap.

Across processes (several uvicorn workers, several replicas) the chain is still one chain: the
batch transaction first takes a transaction-level lock (PostgreSQL `pg_advisory_xact_lock`;
SQLite: a no-op write that takes the database's write lock, as BEGIN IMMEDIATE would), then reads
the tail, so no two batches can link to the same predecessor.

Retention (`purge_older_than`) removes a prefix of the chain, records where the rest now starts in
`audit_anchor` (first kept id, and the hash its `prev_hash` must equal), and appends a `retention`
event, all in one transaction under the same lock; on PostgreSQL it sets
`mirage.audit_retention = 'on'` for that transaction only, which the append-only trigger requires.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, literal, select, tuple_, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.audit_models import ANCHOR_ROW_ID, AuditAnchorModel, AuditEventModel
from adapters.db.engine import Database
from domain.audit import (
    ACCESS_ACTIONS,
    EVENT_FIELDS,
    GENESIS_HASH,
    AuditAction,
    AuditEvent,
    AuditOutcome,
    AuditPage,
    AuditQuery,
    AuditUnavailable,
    ChainVerification,
    StoredAuditEvent,
    chain_hash,
    encode_cursor,
    retention_event,
)

# The mapped tables (`__table__` is typed as the wider FromClause).
EVENTS = cast(Table, AuditEventModel.__table__)
ANCHOR = cast(Table, AuditAnchorModel.__table__)

# pg_advisory_xact_lock key of the chain: "mirage:audit" folded into a bigint.
CHAIN_LOCK_KEY = 0x6D69726167656175
VERIFY_CHUNK = 2_000
_DB_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


class _Stop:
    """Queue sentinel: the writer finishes what was queued before it, then exits."""


_STOP = _Stop()


class SqlAuditLog:
    """`AuditLog` on PostgreSQL or SQLite. Call `start()` (or just `append`) and `close()`."""

    def __init__(
        self,
        database: Database,
        *,
        batch_window_ms: float = 2,
        max_batch: int = 256,
        append_timeout: float | None = 10.0,
        lock_timeout_ms: int = 10_000,
    ) -> None:
        """`batch_window_ms`: when several appends are already waiting, wait this much longer for
        more before committing (a lone append commits at once). `append_timeout`: the longest an
        `append` waits for its commit before raising `AuditUnavailable`. `lock_timeout_ms`: the
        longest a batch waits for another process's batch (PostgreSQL)."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._db = database
        self._window = max(0.0, batch_window_ms) / 1000
        self._max_batch = max_batch
        self._append_timeout = append_timeout
        self._lock_timeout_ms = int(lock_timeout_ms)
        self._queue: asyncio.Queue[tuple[AuditEvent, asyncio.Future[StoredAuditEvent]] | _Stop] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def _postgres(self) -> bool:
        return self._db.dialect == "postgresql"

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the writer task (idempotent). `append` starts it on first use too."""
        if self._closed:
            raise AuditUnavailable("the audit log is closed")
        if self._writer is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_loop(), name="audit-writer")

    async def close(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109  (the shutdown drain bounds itself)
        """Stop taking appends, commit what is queued, stop the writer. Idempotent."""
        self._closed = True
        writer, queue = self._writer, self._queue
        if writer is None or queue is None:
            return
        queue.put_nowait(_STOP)
        try:
            await asyncio.wait_for(asyncio.shield(writer), timeout)
        except TimeoutError:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        finally:
            self._fail_queued(queue, "the audit log closed")

    async def __aenter__(self) -> SqlAuditLog:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # -- append ----------------------------------------------------------------------------

    async def append(self, event: AuditEvent) -> StoredAuditEvent:
        """Chain and store `event`; returns once committed. `AuditUnavailable` if it can't be."""
        if self._closed:
            raise AuditUnavailable("the audit log is closed")
        if self._writer is None:
            await self.start()
        assert self._queue is not None and self._writer is not None
        if self._writer.done():
            raise AuditUnavailable("the audit writer stopped")
        future: asyncio.Future[StoredAuditEvent] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, future))
        try:
            return await asyncio.wait_for(future, self._append_timeout)
        except TimeoutError:
            raise AuditUnavailable("the audit trail did not confirm the write in time") from None

    async def _write_loop(self) -> None:
        assert self._queue is not None
        queue = self._queue
        stopping = False
        batch: list[tuple[AuditEvent, asyncio.Future[StoredAuditEvent]]] = []
        try:
            while not stopping:
                first = await queue.get()
                if isinstance(first, _Stop):
                    break
                batch = [first]
                stopping = self._take_queued(queue, batch)
                if not stopping and self._window and 1 < len(batch) < self._max_batch:
                    # Concurrency is evident: a little patience fills the commit further.
                    await asyncio.sleep(self._window)
                    stopping = self._take_queued(queue, batch)
                await self._write_batch(batch)
                batch = []
        finally:
            # Cancelled or crashed: nobody may be left waiting for a commit that won't come.
            for _, future in batch:
                if not future.done():
                    future.set_exception(AuditUnavailable("the audit writer stopped"))
            self._fail_queued(queue, "the audit writer stopped")

    def _take_queued(self, queue: asyncio.Queue[Any], batch: list[Any]) -> bool:
        """Move queued appends into `batch` up to `max_batch`; True when the stop sentinel came."""
        while len(batch) < self._max_batch:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return False
            if isinstance(item, _Stop):
                return True
            batch.append(item)
        return False

    @staticmethod
    def _fail_queued(queue: asyncio.Queue[Any], message: str) -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if not isinstance(item, _Stop) and not item[1].done():
                item[1].set_exception(AuditUnavailable(message))

    async def _write_batch(self, batch: list[tuple[AuditEvent, asyncio.Future[StoredAuditEvent]]]) -> None:
        try:
            stored = await self._insert_chained([event for event, _ in batch])
        except Exception as error:
            if len(batch) > 1 and _is_data_error(error):
                # One malformed event must not fail its neighbours: retry them one by one.
                for item in batch:
                    await self._write_batch([item])
                return
            for _, future in batch:
                if not future.done():
                    failure = AuditUnavailable()
                    failure.__cause__ = error
                    future.set_exception(failure)
            return
        for (_, future), result in zip(batch, stored, strict=True):
            if not future.done():
                future.set_result(result)

    async def _insert_chained(self, events: Sequence[AuditEvent]) -> list[StoredAuditEvent]:
        async with self._db.engine.begin() as connection:
            await self._lock_chain(connection)
            return await self._chain_and_insert(connection, events)

    async def _lock_chain(self, connection: AsyncConnection) -> None:
        """Serialise chain writers across processes until this transaction ends."""
        if self._postgres:
            await connection.execute(
                select(
                    func.set_config("lock_timeout", f"{self._lock_timeout_ms}ms", True),
                    func.pg_advisory_xact_lock(CHAIN_LOCK_KEY),
                )
            )
        else:
            # SQLite: a write statement takes the database write lock now (waiting busy_timeout
            # for another writer), before the tail is read; it matches no row.
            await connection.execute(update(ANCHOR).where(ANCHOR.c.id == -1).values(event_id=ANCHOR.c.event_id))

    async def _chain_and_insert(
        self, connection: AsyncConnection, events: Sequence[AuditEvent]
    ) -> list[StoredAuditEvent]:
        prev = await self._tail_hash(connection)
        rows: list[dict[str, Any]] = []
        for event in events:
            digest = chain_hash(prev, event)
            row = {name: getattr(event, name) for name in EVENT_FIELDS}
            row["action"] = event.action.value
            row["outcome"] = event.outcome.value
            row["prev_hash"], row["hash"] = prev, digest
            rows.append(row)
            prev = digest
        result = await connection.execute(insert(EVENTS).returning(EVENTS.c.id, sort_by_parameter_order=True), rows)
        ids = result.scalars().all()
        return [
            StoredAuditEvent(
                **{name: row[name] for name in EVENT_FIELDS}, id=event_id, prev_hash=row["prev_hash"], hash=row["hash"]
            )
            for row, event_id in zip(rows, ids, strict=True)
        ]

    @staticmethod
    async def _tail_hash(connection: AsyncConnection) -> str:
        """The hash the next event links to: the newest event's, else the anchor's."""
        newest = select(EVENTS.c.hash).order_by(EVENTS.c.id.desc()).limit(1).scalar_subquery()
        anchored = select(ANCHOR.c.prev_hash).where(ANCHOR.c.id == ANCHOR_ROW_ID).scalar_subquery()
        value = await connection.scalar(select(func.coalesce(newest, anchored, literal(GENESIS_HASH))))
        return str(value)

    # -- reads -----------------------------------------------------------------------------

    async def query(self, q: AuditQuery) -> AuditPage:
        """Keyset page on (occurred_at, id) descending; each filter combination has an index."""
        statement = select(EVENTS).where(EVENTS.c.subject_user_id == q.subject_user_id)
        if q.secret_key is not None:
            statement = statement.where(EVENTS.c.secret_key == q.secret_key)
        if q.action is not None:
            statement = statement.where(EVENTS.c.action == q.action.value)
        if q.outcome is not None:
            statement = statement.where(EVENTS.c.outcome == q.outcome.value)
        if q.start is not None:
            statement = statement.where(EVENTS.c.occurred_at >= q.start)
        if q.end is not None:
            statement = statement.where(EVENTS.c.occurred_at < q.end)
        after = q.after
        if after is not None:
            statement = statement.where(
                tuple_(EVENTS.c.occurred_at, EVENTS.c.id)
                < tuple_(*(literal(value) for value in after), types=[EVENTS.c.occurred_at.type, EVENTS.c.id.type])
            )
        statement = statement.order_by(EVENTS.c.occurred_at.desc(), EVENTS.c.id.desc()).limit(q.limit + 1)
        try:
            async with self._db.engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
        except _DB_ERRORS as error:
            raise AuditUnavailable() from error
        events = tuple(_to_stored(row) for row in rows[: q.limit])
        more = len(rows) > q.limit
        return AuditPage(events, encode_cursor(events[-1].occurred_at, events[-1].id) if more else None)

    async def last_access(self, subject_user_id: str, keys: Sequence[str]) -> dict[str, datetime]:
        if not keys:
            return {}
        statement = (
            select(EVENTS.c.secret_key, func.max(EVENTS.c.occurred_at))
            .where(
                EVENTS.c.subject_user_id == subject_user_id,
                EVENTS.c.secret_key.in_(sorted(set(keys))),
                EVENTS.c.action.in_(sorted(a.value for a in ACCESS_ACTIONS)),
                EVENTS.c.outcome == AuditOutcome.SUCCESS.value,
            )
            .group_by(EVENTS.c.secret_key)
        )
        try:
            async with self._db.engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
        except _DB_ERRORS as error:
            raise AuditUnavailable() from error
        # max() over a TypeDecorator column comes back untyped on SQLite: normalise.
        return {key: _as_utc(when) for key, when in rows}

    async def verify(self) -> ChainVerification:
        """Stream the chain from the anchor in id order (one snapshot) and check every link."""
        try:
            async with self._db.engine.connect() as connection:
                if self._postgres:
                    connection = await connection.execution_options(isolation_level="REPEATABLE READ")
                async with connection.begin():
                    return await self._verify_in(connection)
        except _DB_ERRORS as error:
            raise AuditUnavailable() from error

    async def _verify_in(self, connection: AsyncConnection) -> ChainVerification:
        anchor = (await connection.execute(select(ANCHOR.c.event_id, ANCHOR.c.prev_hash))).first()
        start_id, expected_prev = (anchor[0], anchor[1]) if anchor is not None else (0, GENESIS_HASH)
        statement = (
            select(EVENTS)
            .where(EVENTS.c.id >= start_id)
            .order_by(EVENTS.c.id)
            .execution_options(yield_per=VERIFY_CHUNK)
        )
        checked = 0
        result = await connection.stream(statement)
        try:
            async for rows in result.partitions():
                for row in rows:
                    if row.prev_hash != expected_prev:
                        return ChainVerification(
                            ok=False,
                            checked=checked,
                            first_broken_id=row.id,
                            reason="prev_hash does not match the preceding event: an event is missing or altered",
                        )
                    # The row has the event's fields as attributes: hash it as stored.
                    if chain_hash(row.prev_hash, row) != row.hash:  # type: ignore[arg-type]
                        return ChainVerification(
                            ok=False,
                            checked=checked,
                            first_broken_id=row.id,
                            reason="hash does not match the event's content: the event was altered",
                        )
                    expected_prev = row.hash
                    checked += 1
        finally:
            await result.close()
        return ChainVerification(ok=True, checked=checked)

    # -- retention -------------------------------------------------------------------------

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Remove the chain's prefix before the first event at or after `cutoff`, re-anchor the
        chain on the first kept event, and append a `retention` event; one transaction."""
        if cutoff.tzinfo is None:
            raise ValueError("cutoff must carry a time zone")
        try:
            async with self._db.engine.begin() as connection:
                await self._lock_chain(connection)
                if self._postgres:
                    await connection.execute(select(func.set_config("mirage.audit_retention", "on", True)))
                removed = await self._remove_prefix(connection, cutoff)
                await self._chain_and_insert(connection, [retention_event(removed, cutoff)])
        except _DB_ERRORS as error:
            raise AuditUnavailable() from error
        return removed

    async def _remove_prefix(self, connection: AsyncConnection, cutoff: datetime) -> int:
        first_kept = await connection.scalar(select(func.min(EVENTS.c.id)).where(EVENTS.c.occurred_at >= cutoff))
        last_removed_query = select(EVENTS.c.id, EVENTS.c.hash).order_by(EVENTS.c.id.desc()).limit(1)
        if first_kept is not None:
            last_removed_query = last_removed_query.where(EVENTS.c.id < first_kept)
        last_removed = (await connection.execute(last_removed_query)).first()
        if last_removed is None:
            return 0
        removed = (await connection.execute(EVENTS.delete().where(EVENTS.c.id <= last_removed.id))).rowcount
        anchor = {
            "event_id": first_kept if first_kept is not None else last_removed.id + 1,
            "prev_hash": last_removed.hash,
            "updated_at": datetime.now(UTC),
        }
        moved = await connection.execute(update(ANCHOR).where(ANCHOR.c.id == ANCHOR_ROW_ID).values(**anchor))
        if moved.rowcount == 0:
            await connection.execute(insert(ANCHOR).values(id=ANCHOR_ROW_ID, **anchor))
        return int(removed)


def _is_data_error(error: BaseException) -> bool:
    """An error caused by the rows themselves, not by the database being unreachable."""
    if isinstance(error, DataError | IntegrityError):
        return True
    return isinstance(error, StatementError) and not isinstance(error, DBAPIError)


def _as_utc(value: Any) -> datetime:
    when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _to_stored(row: Any) -> StoredAuditEvent:
    fields = {name: getattr(row, name) for name in EVENT_FIELDS}
    fields["action"] = AuditAction(row.action)
    fields["outcome"] = AuditOutcome(row.outcome)
    return StoredAuditEvent(**fields, id=row.id, prev_hash=row.prev_hash, hash=row.hash)
