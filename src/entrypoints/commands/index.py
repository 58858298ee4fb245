"""`mirage-secrets index reconcile [--dry-run]`: repair the database index from Vault."""

from __future__ import annotations

import argparse
import asyncio
import os


class _VaultCatalog:
    """`SecretCatalog` over the operator API's recursive LIST, with the service's identity."""

    def __init__(self, ops, mount: str) -> None:
        self._ops = ops
        self._mount = mount

    async def paths(self) -> list[str]:
        return await asyncio.to_thread(lambda: list(self._ops.walk(self._mount)))


async def _reconcile(dry_run: bool) -> int:
    from adapters.db.index_repair import SqlIndexRepair
    from adapters.vault.operations import VaultOperations
    from entrypoints.container import build_container
    from entrypoints.settings import load_settings
    from services.index_reconcile import IndexReconciler

    settings = load_settings(os.environ)
    container = await build_container(settings)
    try:
        # Listing runs on the operator API with the same identity the service uses.
        token = settings.vault.token or _approle(settings)
        ops = VaultOperations(_first_active(settings.vault.all_addresses), token=token)
        try:
            report = await IndexReconciler(
                vault=container.vault,
                catalog=_VaultCatalog(ops, settings.vault.mount),
                index=SqlIndexRepair(container.database),
            ).reconcile(dry_run=dry_run)
        finally:
            ops.close()
    finally:
        await container.close()
    print(("dry run: nothing changed\n" if dry_run else "") + "\n".join(report.lines(dry_run=dry_run)))
    return 0


def _approle(settings) -> str:
    from adapters.vault.operations import VaultOperations

    vault = settings.vault
    with VaultOperations(vault.addr) as ops:
        return ops.approle_login(vault.role_id, vault.secret_id or "", mount=vault.approle_mount)


def _first_active(addresses: tuple[str, ...]) -> str:
    from adapters.vault.operations import VaultOperations

    for addr in addresses:
        with VaultOperations(addr) as ops:
            if ops.health_code() == 200:
                return addr
    return addresses[0]


def reconcile(*, dry_run: bool) -> int:
    return asyncio.run(_reconcile(dry_run))


def cmd_reconcile(args: argparse.Namespace) -> int:
    return reconcile(dry_run=args.dry_run)


def register(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser("index", help="the database index of secrets (metadata only)")
    sub = index.add_subparsers(dest="index_command", required=True)
    run = sub.add_parser("reconcile", help="rebuild/repair the index from Vault and print what changed")
    run.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    run.set_defaults(handler=cmd_reconcile)
