"""Audit trail benchmark on PostgreSQL: append cost (fail-closed, group-committed) and the filtered
audit page at scale.

    .venv/bin/python bench/audit_bench.py [--database-url ADMIN_URL] [--events N] [--keep]

Creates `mirage_bench_<hex>` on the admin URL's server (default: the local PostgreSQL at
127.0.0.1:5432 as `postgres`), migrates it, and drops it at the end (unless --keep).

1. Appends through `SqlAuditLog` with 1, 32 and 256 concurrent appenders (each awaits its own
   commit, as a request handler does): events/s, p50/p99 latency. Plus 32 appenders with
   `max_batch=1` (one commit per event) to show what group commit buys.
2. Fills the table to N events (default 1,000,000): ~1,000 users x 20 keys, 30 days, realistic
   action/outcome mix. The rows are chained in Python with the domain's own `chain_hash` (so the
   whole table stays verifiable) and loaded with COPY in chunks.
3. 200 random filtered pages (user + key + action + 7-day range, limit 50) through
   `SqlAuditLog.query`: p50/p99; EXPLAIN (ANALYZE, BUFFERS) of one, to show the index is used.
4. `verify()` over the whole chain: time and rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.db.audit_log import SqlAuditLog
from adapters.db.engine import create_database
from adapters.db.migrate import upgrade
from domain.audit import EVENT_FIELDS, AuditAction, AuditEvent, AuditOutcome, AuditQuery, chain_hash

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
USERS = 1_000
KEYS_PER_USER = 20
DAYS = 30
COPY_CHUNK = 50_000

ACTIONS = [
    (AuditAction.READ, 55),
    (AuditAction.LIST, 12),
    (AuditAction.METADATA_READ, 8),
    (AuditAction.UPDATE, 6),
    (AuditAction.READ_VERSION, 4),
    (AuditAction.VALIDATE, 4),
    (AuditAction.CREATE, 3),
    (AuditAction.ROTATE, 2),
    (AuditAction.SYNC, 2),
    (AuditAction.DENIED, 2),
    (AuditAction.DELETE, 1),
    (AuditAction.ROLLBACK, 1),
]
OUTCOMES = [
    (AuditOutcome.SUCCESS, 93),
    (AuditOutcome.NOT_FOUND, 3),
    (AuditOutcome.DENIED, 2),
    (AuditOutcome.INVALID, 1),
    (AuditOutcome.CONFLICT, 1),
]


async def admin_execute(admin_url: str, statement: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def sample_event(rng: random.Random, at: datetime) -> AuditEvent:
    user = f"user-{rng.randrange(USERS):04d}"
    action = rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS])[0]
    key = None if action is AuditAction.LIST else f"key-{rng.randrange(KEYS_PER_USER):02d}"
    return AuditEvent(
        actor_id=user,
        subject_user_id=user,
        secret_key=key,
        secret_type="custom" if key else None,
        action=action,
        outcome=rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0],
        version=rng.randrange(1, 11) if key else None,
        client_ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) mirage-web/1.4",
        request_id=secrets.token_hex(8),
        trace_id=secrets.token_hex(16),
        occurred_at=at,
    )


async def bench_appends(database, concurrency: int, total: int, *, max_batch: int = 256) -> dict:
    log = SqlAuditLog(database, max_batch=max_batch)
    await log.start()
    rng = random.Random(concurrency)
    latencies: list[float] = []
    per_worker = max(1, total // concurrency)

    async def worker() -> None:
        for _ in range(per_worker):
            event = sample_event(rng, datetime.now(UTC))
            started = time.perf_counter()
            await log.append(event)
            latencies.append(time.perf_counter() - started)

    # Warm-up: connections, prepared statements.
    await asyncio.gather(*(log.append(sample_event(rng, datetime.now(UTC))) for _ in range(min(concurrency, 50))))
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await log.close()
    return {
        "concurrency": concurrency,
        "max_batch": max_batch,
        "events": len(latencies),
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
    }


async def fill(database, target: int) -> tuple[int, float]:
    """COPY chained events until the table holds `target` rows; returns (rows added, seconds)."""
    async with database.engine.connect() as connection:
        existing = (await connection.execute(text("SELECT count(*) FROM audit_events"))).scalar_one()
        tail = (await connection.execute(text("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1"))).scalar()
    to_add = max(0, target - existing)
    if not to_add:
        return 0, 0.0
    prev = tail or "0" * 64
    rng = random.Random(42)
    # Chronological over the last 30 days (ending a day ago: the append-bench rows are newer).
    end = datetime.now(UTC) - timedelta(days=1)
    start = end - timedelta(days=DAYS)
    step = (end - start) / to_add
    columns = [*EVENT_FIELDS, "prev_hash", "hash"]
    started = time.perf_counter()
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        pg = raw.driver_connection
        done = 0
        while done < to_add:
            records = []
            for i in range(done, min(done + COPY_CHUNK, to_add)):
                event = sample_event(rng, start + step * i)
                digest = chain_hash(prev, event)
                records.append(
                    (
                        *(getattr(event, name) for name in EVENT_FIELDS[:6]),
                        event.action.value,
                        event.outcome.value,
                        *(getattr(event, name) for name in EVENT_FIELDS[8:]),
                        prev,
                        digest,
                    )
                )
                prev = digest
            await pg.copy_records_to_table("audit_events", records=records, columns=columns)
            done += len(records)
            print(f"  filled {existing + done:,} / {target:,} ({time.perf_counter() - started:.0f} s)", flush=True)
        await connection.commit()
        await connection.execute(text("ANALYZE audit_events"))
        await connection.commit()
    return to_add, time.perf_counter() - started


async def bench_pages(database, samples: int = 200) -> dict:
    log = SqlAuditLog(database)
    rng = random.Random(7)
    end = datetime.now(UTC) - timedelta(days=1)
    latencies: list[float] = []
    sizes: list[int] = []
    queries = []
    for _ in range(samples + 20):
        window_end = end - timedelta(days=rng.uniform(0, DAYS - 7))
        queries.append(
            AuditQuery(
                subject_user_id=f"user-{rng.randrange(USERS):04d}",
                secret_key=f"key-{rng.randrange(KEYS_PER_USER):02d}",
                action=AuditAction.READ,
                start=window_end - timedelta(days=7),
                end=window_end,
                limit=50,
            )
        )
    for q in queries[:20]:  # warm-up
        await log.query(q)
    for q in queries[20:]:
        started = time.perf_counter()
        page = await log.query(q)
        latencies.append(time.perf_counter() - started)
        sizes.append(len(page.events))
    # Unfiltered-by-key pages of a user's whole trail, 2 pages deep (cursor path).
    deep: list[float] = []
    for _ in range(100):
        q = AuditQuery(subject_user_id=f"user-{rng.randrange(USERS):04d}", limit=50)
        started = time.perf_counter()
        page = await log.query(q)
        page = await log.query(AuditQuery(subject_user_id=q.subject_user_id, limit=50, cursor=page.next_cursor))
        deep.append((time.perf_counter() - started) / 2)
    return {
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "mean_rows": statistics.mean(sizes),
        "user_page_p50_ms": pct(deep, 50) * 1000,
        "user_page_p99_ms": pct(deep, 99) * 1000,
        "sample": queries[20],
    }


async def explain(database, q: AuditQuery) -> str:
    sql = """
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
        SELECT * FROM audit_events
        WHERE subject_user_id = :user AND secret_key = :key AND action = :action
          AND occurred_at >= :start AND occurred_at < :end
        ORDER BY occurred_at DESC, id DESC LIMIT 51
    """
    params = {"user": q.subject_user_id, "key": q.secret_key, "action": q.action.value, "start": q.start, "end": q.end}
    async with database.engine.connect() as connection:
        rows = (await connection.execute(text(sql), params)).scalars().all()
    return "\n".join(rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL of the PostgreSQL server")
    parser.add_argument("--events", type=int, default=1_000_000, help="table size for the query benchmark")
    parser.add_argument("--appends", type=int, default=6_000, help="appends per concurrency level")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    name = f"mirage_bench_{secrets.token_hex(4)}"
    url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
    await admin_execute(args.database_url, f'CREATE DATABASE "{name}"')
    print(f"database {name}")
    database = create_database(url)
    try:
        await asyncio.to_thread(upgrade, url)
        print("\n## Append (each caller awaits its own commit)\n")
        print("| appenders | max_batch | events | events/s | p50 ms | p99 ms |")
        print("|---:|---:|---:|---:|---:|---:|")
        runs = [
            (1, 256, min(args.appends, 2_000)),
            (32, 256, args.appends),
            (256, 256, args.appends),
            (32, 1, min(args.appends, 3_000)),
        ]
        for concurrency, max_batch, total in runs:
            r = await bench_appends(database, concurrency, total, max_batch=max_batch)
            print(
                f"| {r['concurrency']} | {r['max_batch']} | {r['events']:,} | {r['events_per_s']:,.0f} "
                f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |",
                flush=True,
            )

        print(f"\n## Fill to {args.events:,} events (chained in Python, COPY)\n")
        added, seconds = await fill(database, args.events)
        print(f"added {added:,} rows in {seconds:.1f} s ({added / max(seconds, 1e-9):,.0f} rows/s)")
        async with database.engine.connect() as connection:
            total = (await connection.execute(text("SELECT count(*) FROM audit_events"))).scalar_one()
            size = (
                await connection.execute(text("SELECT pg_size_pretty(pg_total_relation_size('audit_events'))"))
            ).scalar_one()
        print(f"table: {total:,} rows, {size} with indexes")

        print("\n## Filtered audit page (user + key + action=read + 7-day range, limit 50), 200 random\n")
        r = await bench_pages(database)
        print(f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms (mean {r['mean_rows']:.1f} rows per page)")
        print(
            f"user-only page (first + cursor page): p50 {r['user_page_p50_ms']:.2f} ms, p99 {r['user_page_p99_ms']:.2f} ms"
        )
        print("\n```\n" + await explain(database, r["sample"]) + "\n```")

        print("\n## verify() over the whole chain\n")
        started = time.perf_counter()
        verification = await SqlAuditLog(database).verify()
        seconds = time.perf_counter() - started
        print(f"{verification} in {seconds:.1f} s ({verification.checked / max(seconds, 1e-9):,.0f} events/s)")
    finally:
        await database.dispose()
        if not args.keep:
            await admin_execute(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
