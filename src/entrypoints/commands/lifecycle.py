"""`mirage-secrets secrets cleanup [--dry-run]`: the secret lifecycle's cleanup pass, by hand.

The same pass the service runs every SECRET_CLEANUP_INTERVAL_SECONDS (and under the same lock, so
it never runs beside one): expire what is past its TTL, destroy what has been expired for longer
than SECRET_RECOVERY_DAYS, write the expiry warnings. Prints one line per secret (names only).
"""

from __future__ import annotations

import argparse
import asyncio
import os

from entrypoints.settings import load_settings


async def _cleanup(dry_run: bool) -> int:
    from entrypoints.container import build_container

    container = await build_container(load_settings(os.environ))
    try:
        report = await container.cleanup.run(dry_run=dry_run)
    finally:
        await container.close()
    print("\n".join(report.lines()))
    return 1 if report.failed else 0


def cmd_secrets_cleanup(args: argparse.Namespace) -> int:
    return asyncio.run(_cleanup(args.dry_run))


def register(subcommands: argparse._SubParsersAction) -> None:
    secrets = subcommands.add_parser("secrets", help="the secret lifecycle (settings from the environment)")
    secrets_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    cleanup = secrets_commands.add_parser(
        "cleanup",
        help="expire secrets past their TTL, destroy those past the recovery window, write expiry warnings",
    )
    cleanup.add_argument("--dry-run", action="store_true", help="print what the pass would do; change nothing")
    cleanup.set_defaults(handler=cmd_secrets_cleanup)
