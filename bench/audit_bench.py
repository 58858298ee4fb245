"""Audit trail benchmark on PostgreSQL: the fail-closed append and `verify()` at scale.

    .venv/bin/python bench/audit_bench.py [--database-url ADMIN_URL] [--appends N] [--verify-events N] [--keep]

Creates `mirage_bench_<hex>` on the admin URL's server (default: the local PostgreSQL at
127.0.0.1:5432 as `postgres`), migrates it, and drops it at the end (unless --keep).

1. Appends through `SqlAuditLog` (the service's adapter, durable: `synchronous_commit` as the
   server has it, on by default) with 1, 32, 64 and 256 concurrent appenders in this process, each
   awaiting its own commit as a request handler does: events/s, p50/p99 latency per append.
2. Fills the table to `--verify-events` events (COPY, one registered segment, every row chained
   in Python with the domain's `segment_hash`), then times `verify()` over the whole trail.

The last line is exactly `AUDIT: <events/s> events/s at 64 appenders, p99 <ms> ms`.
The machine may be shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.db.audit_log import SqlAuditLog
from adapters.db.engine import create_database
from adapters.db.migrate import upgrade
from domain.audit import (
    EVENT_FIELDS,
    AuditAction,
    AuditEvent,
    AuditOutcome,
    event_values,
    segment_genesis,
    segment_hash,
)

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LEVELS = (1, 32, 64, 256)


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


def sample_event(rng: random.Random) -> AuditEvent:
    user = f"user-{rng.randrange(1000):04d}"
    return AuditEvent(
        actor_id=user,
        subject_user_id=user,
        secret_key=f"key-{rng.randrange(20):02d}",
        secret_type="custom",
        action=AuditAction.READ,
        outcome=AuditOutcome.SUCCESS,
        version=rng.randrange(1, 11),
        client_ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) mirage-web/1.4",
        request_id=secrets.token_hex(8),
        trace_id=secrets.token_hex(16),
        occurred_at=datetime.now(UTC),
    )


async def bench_appends(log: SqlAuditLog, concurrency: int, total: int) -> dict[str, float]:
    rng = random.Random(concurrency)
    latencies: list[float] = []
    per_worker = max(1, total // concurrency)
    # The events are built up front: building one is the caller's work, not the trail's.
    events = [sample_event(rng) for _ in range(1_000)]

    async def worker() -> None:
        for i in range(per_worker):
            event = events[i % len(events)]
            started = time.perf_counter()
            await log.append(event)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(log.append(sample_event(rng)) for _ in range(min(concurrency, 50))))  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "cpu_us": cpu / max(1, len(latencies)) * 1e6,
        "events": len(latencies),
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
    }


async def fill(database, target: int) -> float:
    """Bring the table to `target` events with COPY, in one freshly registered segment, each row
    chained in Python with the domain's own `segment_hash` (so verify checks real links)."""
    async with database.engine.connect() as connection:
        existing = (await connection.execute(text("SELECT count(*) FROM audit_events"))).scalar_one()
    missing = max(0, target - existing)
    started = time.perf_counter()
    async with database.engine.connect() as connection:
        pg = (await connection.get_raw_connection()).driver_connection
        segment = await pg.fetchval(
            "INSERT INTO audit_segments (started_at, writer) VALUES (now(), 'bench-fill') RETURNING id"
        )
        rng = random.Random(1)
        prev, seq = segment_genesis(segment), 0
        columns = ["segment_id", "seq", *EVENT_FIELDS, "prev_hash", "hash"]
        while seq < missing:
            records = []
            for _ in range(min(50_000, missing - seq)):
                seq += 1
                event = sample_event(rng)
                digest = segment_hash(prev, segment, seq, event_values(event))
                records.append(
                    (segment, seq, *(getattr(event, name) for name in EVENT_FIELDS[:6]), event.action.value,
                     event.outcome.value, *(getattr(event, name) for name in EVENT_FIELDS[8:]), prev, digest)
                )  # fmt: skip
                prev = digest
            await pg.copy_records_to_table("audit_events", records=records, columns=columns)
        await connection.commit()
    return time.perf_counter() - started


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL of the PostgreSQL server")
    parser.add_argument("--appends", type=int, default=20_000, help="appends per concurrency level (1: a tenth)")
    parser.add_argument("--verify-events", type=int, default=1_000_000, help="events in the table for verify (0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    name = f"mirage_bench_{secrets.token_hex(4)}"
    url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
    await admin_execute(args.database_url, f'CREATE DATABASE "{name}"')
    print(f"database {name}; {load()}")
    database = create_database(url)
    results: dict[int, dict[str, float]] = {}
    try:
        await asyncio.to_thread(upgrade, url)
        log = SqlAuditLog(database)
        await log.start()
        print("\n## Append (each caller awaits its own durable commit)\n")
        print("| appenders | events | events/s | p50 ms | p99 ms | this process's CPU µs/event |")
        print("|---:|---:|---:|---:|---:|---:|")
        for concurrency in LEVELS:
            total = max(200, args.appends // 10) if concurrency == 1 else args.appends
            r = results[concurrency] = await bench_appends(log, concurrency, total)
            print(
                f"| {concurrency} | {r['events']:,.0f} | {r['events_per_s']:,.0f} | {r['p50_ms']:.2f} "
                f"| {r['p99_ms']:.2f} | {r['cpu_us']:.0f} |",
                flush=True,
            )
        if args.verify_events:
            seconds = await fill(database, args.verify_events)
            print(f"\nfilled to {args.verify_events:,} events in {seconds:.1f} s", flush=True)
        await log.close()
        if args.verify_events:
            print("\n## verify() over the whole trail\n")
            started = time.perf_counter()
            verification = await SqlAuditLog(database).verify()
            seconds = time.perf_counter() - started
            print(f"{verification} in {seconds:.2f} s ({verification.checked / max(seconds, 1e-9):,.0f} events/s)")
        print(f"\n{load()}")
    finally:
        await database.dispose()
        if not args.keep:
            await admin_execute(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    r = results[64]
    print(f"AUDIT: {r['events_per_s']:.0f} events/s at 64 appenders, p99 {r['p99_ms']:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
