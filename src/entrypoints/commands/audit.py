"""`mirage-secrets audit verify|prune|purge`: the audit trail, for operators and cron.

`verify` needs DATABASE_URL (SELECT is enough) and, to compare the chain heads against their
witness, the service's Vault settings (VAULT_ADDR, VAULT_TOKEN or AppRole, VAULT_MOUNT).
`prune` removes old events and must run as the tables' owner: DATABASE_ADMIN_URL or --admin-url
(the service's own role may not delete). `purge --days N` is the deprecated spelling of
`prune --older-than Nd`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from entrypoints.settings import (
    SettingsError,
    load_audit_retention_days,
    load_database_settings,
    load_vault_settings,
    vault_configured,
)

T = TypeVar("T")
_DURATION = re.compile(r"^\s*(\d{1,6})\s*d\s*$")


def register(subcommands: Any) -> None:
    audit = subcommands.add_parser("audit", help="the audit trail: verify the chain, prune old events")
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = commands.add_parser(
        "verify", help="check every segment of the hash chain (and its witnessed heads); exit 1 naming the break"
    )
    verify.add_argument(
        "--no-witness", action="store_true", help="don't compare with the heads witnessed in Vault (database only)"
    )
    verify.set_defaults(handler=cmd_verify)

    prune = commands.add_parser(
        "prune", help="the retention job (daily cron, as the owner): remove events older than a duration"
    )
    prune.add_argument(
        "--older-than",
        help="e.g. 365d (default: AUDIT_RETENTION_DAYS days, else 30d; 0d removes everything so far)",
    )
    prune.add_argument("--admin-url", help="the tables' owner (default: DATABASE_ADMIN_URL, else DATABASE_URL)")
    prune.set_defaults(handler=cmd_prune)

    purge = commands.add_parser("purge", help="deprecated: use `audit prune --older-than <N>d`")
    purge.add_argument("--days", help="retention in days (default: AUDIT_RETENTION_DAYS, else 30)")
    purge.add_argument("--admin-url", help="the tables' owner (default: DATABASE_ADMIN_URL, else DATABASE_URL)")
    purge.set_defaults(handler=cmd_purge)


def _retention_days(raw: str | None) -> int:
    return load_audit_retention_days(os.environ, raw)


def _duration_days(raw: str | None) -> int:
    if raw is None:
        return _retention_days(None)
    match = _DURATION.match(raw)
    if match is None:
        raise SettingsError(f"--older-than is a number of days like 365d, got {raw!r}")
    return int(match.group(1))


async def _with_audit_log(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(log)` on an `SqlAuditLog` over `url` alone; always closed."""
    from adapters.db.audit_log import SqlAuditLog
    from adapters.db.engine import create_database
    from domain.audit import AuditUnavailable

    database = create_database(url)
    log = SqlAuditLog(database)
    try:
        return await work(log)
    except AuditUnavailable as exc:
        cause = f" ({type(exc.__cause__).__name__})" if exc.__cause__ is not None else ""
        raise RuntimeError(f"audit trail unavailable: {exc}{cause}") from None
    finally:
        await log.close()
        await database.dispose()


async def _witnessed_heads() -> dict[int, Any]:
    from adapters.vault.audit_witness import VaultChainWitness
    from adapters.vault.client import build_client
    from adapters.vault.hvac_vault import HvacSecretVault
    from domain.audit import WitnessUnavailable
    from domain.errors import VaultUnavailable

    vault_settings = load_vault_settings(os.environ)
    try:
        client = build_client(
            addr=vault_settings.addr,
            token=vault_settings.token,
            role_id=vault_settings.role_id,
            secret_id=vault_settings.secret_id,
            namespace=vault_settings.namespace,
            verify=not vault_settings.skip_verify,
            timeout=vault_settings.timeout_seconds,
        )
        vault = HvacSecretVault(client, mount=vault_settings.mount)
        try:
            return await VaultChainWitness(vault, load_database_settings(os.environ).audit_witness_path).latest()
        finally:
            await vault.close()
    except (WitnessUnavailable, VaultUnavailable) as exc:
        raise RuntimeError(f"audit witness unavailable: {exc}") from None


def cmd_verify(args: argparse.Namespace) -> int:
    url = load_database_settings(os.environ).url
    use_witness = not args.no_witness and vault_configured(os.environ)

    async def verify() -> Any:
        witnessed = await _witnessed_heads() if use_witness else None

        async def run(log: Any) -> Any:
            return await log.verify(witnessed)

        return await _with_audit_log(url, run)

    result = asyncio.run(verify())
    if not use_witness:
        reason = "--no-witness" if args.no_witness else "VAULT_ADDR is not set"
        print(f"audit witness not checked ({reason}): removed newest events would go unnoticed", file=sys.stderr)
    if result.ok:
        witnessed = f", {result.witnessed} witnessed segment heads matched" if use_witness else ""
        print(f"audit chain OK: {result.checked} events checked{witnessed}")
        return 0
    where = f"at event {result.first_broken_id}" if result.first_broken_id is not None else "at the chain's head"
    print(f"audit chain BROKEN {where}: {result.reason} ({result.checked} events verified before it)")
    return 1


def _prune(days: int, admin_url: str | None) -> int:
    from services.audit_service import AuditService
    from services.audit_trail import AuditTrail

    settings = load_database_settings(os.environ)
    url = admin_url or settings.admin_url or settings.url

    async def purge(log: Any) -> int:
        return await AuditService(log=log, trail=AuditTrail(log), retention_days=days).purge_expired()

    return asyncio.run(_with_audit_log(url, purge))


def cmd_prune(args: argparse.Namespace) -> int:
    days = _duration_days(args.older_than)
    removed = _prune(days, args.admin_url)
    print(f"removed {removed} audit events older than {days} days")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    days = _retention_days(args.days)
    print("mirage-secrets: `audit purge` is deprecated: use `audit prune --older-than <N>d`", file=sys.stderr)
    removed = _prune(days, args.admin_url)
    print(f"removed {removed} audit events older than {days} days")
    return 0
