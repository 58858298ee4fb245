"""`mirage-secrets backup create|list|prune|schedule|verify|restore|restore-secret`.

Settings: VAULT_ADDR (one or several nodes), BACKUP_DIR, BACKUP_VAULT_TOKEN (or BACKUP_VAULT_ROLE_ID
+ BACKUP_VAULT_SECRET_ID; the backup policy's identity, never root), DATABASE_URL (dumped alongside
when set), BACKUP_METRICS_FILE, BACKUP_HOURLY and the retention days (README, "Configuration").
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

import msgspec

from entrypoints.commands.shares import read_shares
from entrypoints.settings import (
    BackupSettings,
    SettingsError,
    load_backup_settings,
    load_operator_settings,
    load_vault_addresses,
)

log = logging.getLogger("mirage.backup")


def _mount() -> str:
    return load_operator_settings(os.environ).mount


def _active_addr() -> str:
    """The active node of VAULT_ADDR (snapshots are taken from the leader), else the first address."""
    from adapters.vault.operations import VaultOperations

    addresses = load_vault_addresses(os.environ)
    for addr in addresses:
        with VaultOperations(addr) as ops:
            if ops.health_code() == 200:
                return addr
    return addresses[0]


def _backup_login(settings: BackupSettings):
    def login(ops) -> str:
        if settings.token:
            return settings.token
        if settings.role_id and settings.secret_id:
            return ops.approle_login(settings.role_id, settings.secret_id)
        raise SettingsError("BACKUP_VAULT_TOKEN (or BACKUP_VAULT_ROLE_ID/BACKUP_VAULT_SECRET_ID) is required")

    return login


def _service_login():
    """The service's own identity (VAULT_TOKEN or AppRole): it is in the snapshot and may read values."""

    def login(ops) -> str:
        operator = load_operator_settings(os.environ)
        if operator.token:
            return operator.token
        if operator.role_id and operator.secret_id:
            return ops.approle_login(operator.role_id, operator.secret_id, mount=operator.approle_mount)
        raise SettingsError("VAULT_TOKEN (or VAULT_ROLE_ID/VAULT_SECRET_ID) is required to read the snapshot's values")

    return login


def _service(settings: BackupSettings, *, with_source: bool, database: bool = True):
    from adapters.backups.database import SqlDatabaseDumper
    from adapters.backups.files import FileBackupStore, TextfileBackupMetrics
    from adapters.vault.operations import VaultOperations
    from adapters.vault.restore import VaultSnapshotSource
    from services.backups import BackupService

    source = None
    if with_source:
        addr = _active_addr()
        with VaultOperations(addr) as anonymous:
            token = _backup_login(settings)(anonymous)
        source = VaultSnapshotSource(VaultOperations(addr, token=token, timeout=30.0), _mount())
        source.ensure_not_root()
    database_url = load_operator_settings(os.environ).database_url if database else None
    return BackupService(
        store=FileBackupStore(settings.directory),
        source=source,
        database=SqlDatabaseDumper(database_url) if database_url else None,
        metrics=TextfileBackupMetrics(settings.metrics_file) if settings.metrics_file else None,
        mount=_mount(),
    )


class _ProgressLine:
    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, written: int) -> None:
        now = time.monotonic()
        if now - self._last >= 0.2:
            self._last = now
            print(f"\rsnapshot: {written / 1024:,.1f} KiB", end="", file=sys.stderr, flush=True)

    def done(self, total: int) -> None:
        print(f"\rsnapshot: {total / 1024:,.1f} KiB, done", file=sys.stderr, flush=True)


def _create(settings: BackupSettings, *, database: bool) -> int:
    progress = _ProgressLine()
    backup = _service(settings, with_source=True, database=database).create(progress)
    manifest = backup.manifest
    assert manifest is not None
    progress.done(manifest.files["vault.snap"].bytes)
    print(f"backup {backup.path}")
    print(
        f"  {manifest.inventory.secrets} secrets, {manifest.inventory.versions} versions, "
        f"{len(manifest.inventory.per_user)} users; Vault {manifest.vault_version}; database: {manifest.database}"
    )
    for name, entry in sorted(manifest.files.items()):
        print(f"  {name}  {entry.bytes} bytes  sha256 {entry.sha256}")
    return 0


def _policy(settings: BackupSettings):
    from domain.backups import RetentionPolicy

    return RetentionPolicy(daily_days=settings.daily_days, hourly=settings.hourly, hourly_days=settings.hourly_days)


def cmd_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    return _create(settings, database=not args.no_database)


def cmd_list(args: argparse.Namespace) -> int:
    backups = _service(_settings(args), with_source=False).list()
    if not backups:
        print(f"no backups in {_settings(args).directory}")
    for backup in backups:
        manifest = backup.manifest
        if manifest is None:
            print(f"{backup.path.name}  INCOMPLETE (no manifest: an interrupted backup)")
            continue
        size = sum(f.bytes for f in manifest.files.values())
        print(
            f"{backup.path.name}  {manifest.created_at:%Y-%m-%d %H:%M:%S}Z  {manifest.inventory.secrets} secrets  "
            f"{size / 1024:,.1f} KiB  database: {manifest.database}"
        )
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    settings = _settings(args)
    doomed = _service(settings, with_source=False).prune(_policy(settings), dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for backup in doomed:
        print(f"{verb} {backup.path.name}")
    print(
        f"{verb} {len(doomed)} backups (kept: daily {settings.daily_days} days"
        + (f", hourly {settings.hourly_days} days)" if settings.hourly else ")")
    )
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    """For platforms without cron: a backup and a prune every interval, forever (or --count times)."""
    settings = _settings(args)
    interval = args.interval or settings.interval_seconds
    runs = 0
    failures = 0
    while args.count is None or runs < args.count:
        started = time.monotonic()
        try:
            _create(settings, database=not args.no_database)
            _service(settings, with_source=False).prune(_policy(settings))
        except Exception as exc:  # the loop outlives one failed backup; the alert sees the age grow
            failures += 1
            print(f"backup failed: {exc}", file=sys.stderr, flush=True)
        runs += 1
        if args.count is not None and runs >= args.count:
            break
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return 1 if failures else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from adapters.vault.restore import scratch_factory
    from domain.backups import BackupCorrupt

    settings = _settings(args)
    service = _service(settings, with_source=False)
    location = Path(args.backup)
    _, manifest = service.check(location)  # a corrupt file fails before any share is asked for
    shares = read_shares(args.shares_file, needed=manifest.key_threshold)
    try:
        report = service.verify(location, shares, scratch_factory(_backup_login(settings)))
    except BackupCorrupt as exc:
        print(f"backup {location} is NOT good: {exc}")
        return 1
    print(f"backup {location} is good")
    print("\n".join(f"  {line}" for line in report.lines()))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from adapters.vault.restore import ClusterRestorer

    settings = _settings(args)
    service = _service(settings, with_source=False)
    location = Path(args.backup)
    _, manifest = service.check(location)
    shares = read_shares(args.shares_file, needed=manifest.key_threshold)
    addr = load_vault_addresses(os.environ)[0]
    restorer = ClusterRestorer(addr, token=load_operator_settings(os.environ).restore_token, report=print)
    print(service.restore(location, shares, restorer))
    print("unseal the other nodes with the same original shares (`mirage-secrets vault unseal`)")
    if args.no_reconcile or not load_operator_settings(os.environ).database_url:
        print("index not reconciled: run `mirage-secrets index reconcile` once the service's settings are in place")
        return 0
    from entrypoints.commands.index import reconcile

    return reconcile(dry_run=False)


def cmd_restore_secret(args: argparse.Namespace) -> int:
    from adapters.vault.restore import scratch_factory
    from domain.secrets import locate

    settings = _settings(args)
    service = _service(settings, with_source=False)
    location = Path(args.backup)
    _, manifest = service.check(location)
    locator = locate(args.user, args.key)
    shares = read_shares(args.shares_file, needed=manifest.key_threshold)
    found = service.secret_versions(location, locator.path, shares, scratch_factory(_service_login()))
    if not found.versions:
        print(f"{args.user}/{args.key} has no readable version in the backup")
        return 1
    written = asyncio.run(_write_versions(args.user, args.key, found, f"{manifest.created_at:%Y-%m-%dT%H:%M:%SZ}"))
    print(
        f"restored {len(found.versions)} versions of {args.user}/{args.key} from {manifest.created_at:%Y-%m-%d %H:%M}Z "
        f"(backup versions {', '.join(str(n) for n, _ in found.versions)}) as new versions {', '.join(map(str, written))}"
    )
    return 0


async def _write_versions(user: str, key: str, found, taken_at: str) -> list[int]:
    """Each backed-up version becomes a new version in the live store, oldest first; other secrets
    are not touched. Through `SecretService`, so the index and every instance's cache follow."""
    from datetime import UTC, datetime

    from adapters.db.repositories import SqlSecretIndex, SqlUserDirectory
    from adapters.vault.sessions import SharedVaultSessions
    from domain.audit import AuditAction
    from domain.secrets import SecretMetadata, locate
    from domain.values import Principal
    from entrypoints.container import build_container
    from entrypoints.settings import load_settings
    from services.migration import OPERATOR
    from services.secret_service import SecretService

    container = await build_container(load_settings(os.environ))
    try:
        secrets = SecretService(
            vaults=SharedVaultSessions(container.vault),
            index=SqlSecretIndex(container.database),
            users=SqlUserDirectory(container.database),
            cache=container.cache,
        )
        principal = Principal(user_id=user)
        locator = locate(user, key)
        backed_up = SecretMetadata.from_vault(
            found.custom_metadata,
            fallback=SecretMetadata(
                created_by=user, created_at=datetime.now(UTC), secret_type=locator.default_type.value
            ),
        )
        written = []
        for backed_up_version, data in found.versions:
            # One audit event per restored version: the operator ("system") acting on the user's secret.
            async with container.trail.record(OPERATOR, AuditAction.ROLLBACK, key=key, subject_user_id=user) as note:
                note.reason = f"restore-secret: version {backed_up_version} of the backup taken {taken_at}"
                if locator.is_custom:
                    stored = await secrets.store(
                        principal,
                        key=key,
                        value=data[locator.value_field],
                        tags=list(backed_up.tags),
                        secret_type=backed_up.secret_type,
                        description=backed_up.description,
                    )
                else:
                    stored, _ = await secrets.store_fields(principal, key, data)
                note.version = stored.version
            written.append(stored.version)
        return written
    finally:
        await container.close()


def _settings(args: argparse.Namespace) -> BackupSettings:
    settings = load_backup_settings(os.environ)
    if getattr(args, "dir", None):
        settings = msgspec.structs.replace(settings, directory=Path(args.dir))
    return settings


def register(commands: argparse._SubParsersAction) -> None:
    backup = commands.add_parser("backup", help="Raft snapshots + database dumps: create, verify, restore, retention")
    sub = backup.add_subparsers(dest="backup_command", required=True)

    def with_dir(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--dir", help="backup directory (default: BACKUP_DIR, else ./backups)")
        return parser

    def with_shares(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("backup", help="a backup directory (or its manifest.json / vault.snap)")
        parser.add_argument(
            "--shares-file", help="the ORIGINAL unseal shares, one a line (default: stdin, or a prompt)"
        )
        return with_dir(parser)

    create = with_dir(sub.add_parser("create", help="take a backup now (snapshot, database dump, manifest)"))
    create.add_argument("--no-database", action="store_true", help="the Vault snapshot only")
    create.set_defaults(handler=cmd_create)
    with_dir(sub.add_parser("list", help="backups, newest first")).set_defaults(handler=cmd_list)
    prune = with_dir(sub.add_parser("prune", help="retention: daily 30 days (hourly 7 days with BACKUP_HOURLY)"))
    prune.add_argument("--dry-run", action="store_true")
    prune.set_defaults(handler=cmd_prune)
    schedule = with_dir(sub.add_parser("schedule", help="a backup and a prune every BACKUP_INTERVAL_SECONDS, forever"))
    schedule.add_argument("--interval", type=int, help="seconds between backups (default BACKUP_INTERVAL_SECONDS)")
    schedule.add_argument("--count", type=int, help="stop after this many runs")
    schedule.add_argument("--no-database", action="store_true")
    schedule.set_defaults(handler=cmd_schedule)
    with_shares(
        sub.add_parser("verify", help="checksums, then a restore into a scratch OpenBao; counts checked")
    ).set_defaults(handler=cmd_verify)
    restore = with_shares(
        sub.add_parser("restore", help="into a fresh cluster at VAULT_ADDR: force the snapshot, unseal, reconcile")
    )
    restore.add_argument("--no-reconcile", action="store_true", help="leave the database index as it is")
    restore.set_defaults(handler=cmd_restore)
    one = with_shares(
        sub.add_parser("restore-secret", help="bring one secret's versions back from a backup as new versions")
    )
    one.add_argument("--user", required=True)
    one.add_argument("--key", required=True)
    one.set_defaults(handler=cmd_restore_secret)
