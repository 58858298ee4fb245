"""The secret lifecycle's cleanup pass on real servers: how long expiring and destroying N secrets take.

    .venv/bin/python bench/cleanup_bench.py [--secrets N] [--database-url ADMIN_URL]

Starts an in-memory OpenBao dev server, creates and migrates `mirage_test_<hex>` on the admin URL's
PostgreSQL (default 127.0.0.1:5432 as `postgres`, dropped at the end), stores N secrets with a
one-second TTL through the audited SecretService, then times one pass that expires them all
(Vault metadata read + soft delete + audit event each) and one, with the recovery window at 0, that
destroys them all (metadata read + destroy + index row + audit event each).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import hvac  # noqa: E402

from adapters.db.migrate import upgrade  # noqa: E402
from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keypair  # noqa: E402
from adapters.vault.bootstrap import bootstrap_vault  # noqa: E402
from domain.values import Principal, SecretValue  # noqa: E402
from entrypoints.container import build_cleanup_service, build_container  # noqa: E402
from entrypoints.settings import load_settings  # noqa: E402
from tests.support.openbao import start_dev_openbao  # noqa: E402
from tests.support.postgres import create_test_database, drop_test_database  # noqa: E402


async def bench(settings, count: int) -> None:
    container = await build_container(settings)
    try:
        users = [Principal(user_id=f"bench_{n % 20}") for n in range(count)]
        started = time.perf_counter()
        for n, user in enumerate(users):
            await container.secrets.store(user, key=f"temp-{n}", value=SecretValue(f"value-{n}"), ttl=1)
        print(f"stored {count} secrets with ttl=1s in {time.perf_counter() - started:.2f} s")
        await asyncio.sleep(1.5)

        started = time.perf_counter()
        report = await container.cleanup.run()
        took = time.perf_counter() - started
        print(f"expire pass: {len(report.expired)} expired in {took:.2f} s ({len(report.expired) / took:.0f}/s)")

        destroyer = build_cleanup_service(
            settings,
            vault=container.vault,
            database=container.database,
            cache=container.cache,
            trail=container.trail,
            recovery=timedelta(0),
        )
        started = time.perf_counter()
        report = await destroyer.run()
        took = time.perf_counter() - started
        print(f"destroy pass: {len(report.destroyed)} destroyed in {took:.2f} s ({len(report.destroyed) / took:.0f}/s)")
        started = time.perf_counter()
        report = await destroyer.run()
        print(f"idle pass (nothing to do): {(time.perf_counter() - started) * 1000:.1f} ms")
    finally:
        await container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--secrets", type=int, default=500)
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    server = start_dev_openbao()
    database_url = create_test_database(args.database_url)
    try:
        client = hvac.Client(url=server.addr, token=server.root_token)
        bootstrap_vault(client, "mirage", jwt=None, user_auth="token")
        upgrade(database_url)
        keys = ensure_dev_keypair(Path(os.environ.get("TMPDIR", "/tmp")) / "cleanup-bench-auth")
        env = {
            "VAULT_ADDR": server.addr,
            "VAULT_TOKEN": server.root_token,
            "DATABASE_URL": database_url,
            "AUTH_PUBLIC_KEY_FILE": str(keys[1]),
            "AUTH_ISSUER": DEV_ISSUER,
            "AUTH_AUDIENCE": DEV_AUDIENCE,
        }
        asyncio.run(bench(load_settings(env), args.secrets))
    finally:
        drop_test_database(args.database_url, database_url)
        server.stop()


if __name__ == "__main__":
    main()
