"""`mirage-secrets`: serve, run the embedded dev stack, bootstrap Vault, mint dev tokens, migrate, audit."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from domain.errors import DomainError
from entrypoints.commands import audit as audit_commands
from entrypoints.commands import backup, index, vault_ops
from entrypoints.commands import lifecycle as lifecycle_commands
from entrypoints.commands import run as run_commands
from entrypoints.settings import (
    MAX_WORKERS,
    SettingsError,
    TelemetrySettings,
    load_data_dir,
    load_database_settings,
    load_dev_vault_port,
    load_optional_auth_settings,
    load_settings,
    load_vault_settings,
)

DEV_DATABASE_FILE = "mirage.sqlite3"


def _data_dir() -> Path:
    return load_data_dir(os.environ)


def _serve(
    host: str,
    port: int,
    workers: int,
    server: str = "granian",
    *,
    telemetry: TelemetrySettings,
    factory: str = "entrypoints.asgi:app_from_env",
) -> None:
    """Serve the ASGI factory with `workers` processes; each builds its own container and pools.

    granian by default: on this machine it served the warm read 1.7-2.7x faster than uvicorn with
    the same app and workers (docs/performance.md); `WEB_SERVER=uvicorn` keeps uvicorn.
    """
    with _prometheus_multiprocess_dir(workers, telemetry.prometheus_multiproc_dir):
        if server == "granian":
            from granian import Granian
            from granian.constants import Interfaces

            Granian(
                factory,
                factory=True,
                address=host,
                port=port,
                interface=Interfaces.ASGI,
                workers=workers,
                websockets=False,
                # Access lines go through the app's redacting handler and sampler (granian.access).
                log_access=telemetry.access_sample > 0,
                respawn_failed_workers=True,
            ).serve()
            return
        import uvicorn

        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            log_config=None,  # uvicorn's loggers go through the app's redacting JSON handler
        )


@contextlib.contextmanager
def _prometheus_multiprocess_dir(workers: int, given: str | None) -> Iterator[None]:
    """Several workers write their samples to one directory, so `/metrics` adds up all of them.

    The variable must be in the environment before the workers start (prometheus_client reads it
    at import). An operator's PROMETHEUS_MULTIPROC_DIR is used and emptied at each start (samples
    of workers from an earlier run would be counted again); otherwise, with more than one worker,
    a private temporary directory is made here and removed when the server stops.
    """
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield
        return
    if workers == 1:
        yield  # one process: its own registry is the whole truth
        return
    directory = Path(tempfile.mkdtemp(prefix="mirage-metrics-"))
    os.environ.update({"PROMETHEUS_MULTIPROC_DIR": str(directory)})  # for the workers to inherit
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(directory, ignore_errors=True)


class SchemaNotCurrent(SettingsError):
    """The database is not at the newest migration."""


def _check_schema(url: str) -> None:
    """Refuse to serve an unmigrated database: every request would be a 503 otherwise.

    A database that does not answer is not refused here: the service starts and reports it on
    /readyz until it comes back, as before.
    """
    from adapters.db.migrate import is_up_to_date

    try:
        current = is_up_to_date(url)
    except Exception as exc:  # unreachable, refused: not a schema verdict
        print(
            f"mirage-secrets: warning: could not check the database schema ({type(exc).__name__}); serving anyway",
            file=sys.stderr,
        )
        return
    if not current:
        raise SchemaNotCurrent(
            "the database schema is not up to date: run `mirage-secrets db upgrade` (or `serve --migrate`)"
        )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    workers = args.workers if args.workers is not None else settings.server.workers
    if not 1 <= workers <= MAX_WORKERS:
        raise SettingsError(f"--workers must be from 1 to {MAX_WORKERS}, not {workers}")
    if workers > 1 and settings.redis.url is None and settings.cache.ttl_seconds > 0:
        # Each worker would cache for itself and miss the others' invalidations: stale reads.
        raise SettingsError("several workers need REDIS_URL for a shared cache (or CACHE_TTL_SECONDS=0)")
    if args.migrate:
        _upgrade_database(settings.database.admin_url or settings.database.url)
    else:
        _check_schema(settings.database.url)
    _serve(settings.server.host, settings.server.port, workers, settings.server.server, telemetry=settings.telemetry)
    return 0


def _upgrade_database(url: str) -> None:
    from adapters.db.migrate import upgrade

    upgrade(url)


def _bootstrap_vault() -> list[str]:
    from adapters.vault.bootstrap import JwtAuthSetup, bootstrap_vault
    from adapters.vault.client import build_client

    vault = load_vault_settings(os.environ)
    client = build_client(
        addr=vault.addr,
        token=vault.token,
        role_id=vault.role_id,
        secret_id=vault.secret_id,
        namespace=vault.namespace,
        verify=not vault.skip_verify,
        addresses=vault.all_addresses,
    )
    jwt = None
    auth = load_optional_auth_settings(os.environ)
    if auth is not None:  # Vault checks users' tokens the way the service does
        jwt = JwtAuthSetup(
            issuer=auth.issuer,
            audience=auth.audience,
            roles_claim=auth.roles_claim,
            jwks_url=auth.jwks_url,
            public_key_pem=Path(auth.public_key_file).read_text() if auth.public_key_file else None,
            path=vault.jwt_auth_path,
        )
    return bootstrap_vault(client, vault.mount, jwt=jwt, user_auth=vault.user_auth)


def cmd_vault_bootstrap(args: argparse.Namespace) -> int:
    print("\n".join(_bootstrap_vault()))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate as the tables' owner (--admin-url, else DATABASE_ADMIN_URL, else DATABASE_URL),
    then give the service's role (DATABASE_URL's user) exactly its privileges; prints each step."""
    import asyncio

    from adapters.db.roles import apply_service_grants

    settings = load_database_settings(os.environ)
    admin_url = args.admin_url or settings.admin_url or settings.url
    _upgrade_database(admin_url)
    print("database schema is up to date")
    for line in asyncio.run(apply_service_grants(admin_url, settings.url)):
        print(line)
    return 0


def cmd_dev_token(args: argparse.Namespace) -> int:
    from adapters.identity.dev_keys import issue_token

    key_file = Path(args.key_file) if args.key_file else _data_dir() / "auth" / "dev-signing-key.pem"
    if not key_file.is_file():
        raise SettingsError(f"no dev signing key at {key_file}: start the dev server once with 'make run'")
    print(issue_token(key_file, args.user, admin=args.admin, ttl_seconds=args.ttl))
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_dev(args: argparse.Namespace) -> int:
    """Everything on embedded defaults: local OpenBao, SQLite, in-process cache. Development only."""
    from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keypair
    from adapters.vault.embedded import EmbeddedOpenBao

    data_dir = _data_dir()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # uvicorn re-raises a SIGTERM it handled once it has shut down; with Python's default action
    # that would end the process before `finally` stops OpenBao, leaving it running.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    bao = EmbeddedOpenBao(data_dir, port=load_dev_vault_port(os.environ))
    info = bao.start()
    try:
        _, public_key = ensure_dev_keypair(data_dir / "auth")
        os.environ.update(
            {
                "VAULT_ADDR": info.addr,
                "VAULT_TOKEN": info.root_token,
                "AUTH_PUBLIC_KEY_FILE": str(public_key),
                "AUTH_ISSUER": DEV_ISSUER,
                "AUTH_AUDIENCE": DEV_AUDIENCE,
            }
        )
        os.environ.pop("VAULT_ROLE_ID", None)
        os.environ.pop("AUTH_JWKS_URL", None)
        os.environ.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / DEV_DATABASE_FILE}")
        settings = load_settings(os.environ, dev_mode=True)
        print("\n".join(_bootstrap_vault()))
        _upgrade_database(settings.database.url)
        base = f"http://{settings.server.host}:{settings.server.port}"
        print(
            f"\nMirage Secrets (development mode) on {base}\n"
            f"  OpenBao {info.addr}, data and unseal key under {data_dir} (development only)\n"
            f'  web UI:       {base}/ui  ("Sign in as a development user")\n'
            f"  get a token:  TOKEN=$(.venv/bin/mirage-secrets dev-token alice)\n"
            f'  try it:       curl -H "Authorization: Bearer $TOKEN" {base}/api/v1/secrets\n'
            f"  API schema:   {base}/schema\n",
            flush=True,
        )
        _serve(
            settings.server.host,
            settings.server.port,
            workers=1,
            server=settings.server.server,
            telemetry=settings.telemetry,
            factory="entrypoints.asgi:dev_app_from_env",
        )
    finally:
        bao.stop()
    return 0


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total if total else width
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
        end="" if done < total else "\n",
        file=sys.stderr,
        flush=True,
    )


def _read_csv(path: str) -> list[tuple[str, str]]:
    import csv

    pairs: list[tuple[str, str]] = []
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            if not row or row[0].strip().startswith("#") or row[0].strip().lower() in ("user", "user_id"):
                continue  # blank lines, comments and a header row
            if len(row) != 2:
                raise SettingsError(f"{path}: every row is user,token ({len(pairs) + 1} rows read)")
            pairs.append((row[0].strip(), row[1].strip()))
    return pairs


async def _migrate_tokens(args: argparse.Namespace) -> int:
    from adapters.db.repositories import SqlSecretIndex, SqlUserDirectory
    from adapters.vault.sessions import SharedVaultSessions
    from domain.values import SecretValue
    from entrypoints.container import build_container, build_provider_services
    from services.migration import MigrationItem
    from services.secret_service import SecretService

    settings = load_settings(os.environ)
    container = await build_container(settings)
    try:
        # The operator's Vault identity writes every user's path: users' own tokens aren't at hand here.
        vaults = SharedVaultSessions(container.vault)
        secrets = SecretService(
            vaults=vaults,
            index=SqlSecretIndex(container.database),
            users=SqlUserDirectory(container.database),
            cache=container.cache,
        )
        migration = build_provider_services(
            settings,
            secrets=secrets,
            trail=container.trail,  # actor "system", subject each user
            vaults=vaults,
            database=container.database,
            http=container.http,
        ).migration
        if args.csv:
            items = [MigrationItem(user, SecretValue(token)) for user, token in _read_csv(args.csv)]
        else:
            legacy = settings.providers.railway_api_token
            if not legacy:
                raise SettingsError("RAILWAY_API_TOKEN is not set: nothing to migrate (or pass --csv FILE)")
            items = await migration.legacy_items(SecretValue(legacy), args.user or None)
        print(f"{'checking' if args.dry_run else 'migrating'} {len(items)} users", file=sys.stderr)
        summary = await migration.migrate(items, dry_run=args.dry_run, progress=_progress)
        print(("dry run: nothing written\n" if args.dry_run else "") + "\n".join(summary.lines()))
        return 1 if summary.failed else 0
    finally:
        await container.close()


def cmd_migrate_tokens(args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_migrate_tokens(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mirage-secrets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (settings from the environment)")
    serve.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: WEB_CONCURRENCY, else the CPU count)"
    )
    serve.add_argument("--migrate", action="store_true", help="upgrade the database schema first")
    serve.set_defaults(handler=cmd_serve)

    dev = commands.add_parser("dev", help="serve on embedded defaults (local OpenBao, SQLite); development only")
    dev.set_defaults(handler=cmd_dev)

    vault = commands.add_parser("vault", help="Vault administration")
    vault_commands = vault.add_subparsers(dest="vault_command", required=True)
    bootstrap = vault_commands.add_parser(
        "bootstrap", help="KV v2 mount, policies, JWT auth (when AUTH_* are set) and the AppRole role; idempotent"
    )
    bootstrap.set_defaults(handler=cmd_vault_bootstrap)
    vault_ops.register(vault_commands)
    backup.register(commands)
    index.register(commands)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser(
        "upgrade", help="apply all migrations as the owner, then grant the service's role (idempotent)"
    )
    upgrade.add_argument("--admin-url", help="the tables' owner (default: DATABASE_ADMIN_URL, else DATABASE_URL)")
    upgrade.set_defaults(handler=cmd_db_upgrade)

    migrate = commands.add_parser(
        "migrate-tokens",
        help="move Railway tokens into Vault per user: the shared RAILWAY_API_TOKEN, or a CSV of user,token",
    )
    migrate.add_argument("--csv", help="file of user,token rows (instead of RAILWAY_API_TOKEN)")
    migrate.add_argument(
        "--user", action="append", help="only this user (repeatable; default: every user without a Vault token)"
    )
    migrate.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    migrate.set_defaults(handler=cmd_migrate_tokens)

    audit_commands.register(commands)

    lifecycle_commands.register(commands)  # secrets cleanup
    run_commands.register(commands)  # run, env export
    token = commands.add_parser("dev-token", help="print a bearer token the dev server accepts")
    token.add_argument("user")
    token.add_argument("--admin", action="store_true")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    token.add_argument("--key-file", help="private key (default: <data dir>/auth/dev-signing-key.pem)")
    token.set_defaults(handler=cmd_dev_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except SettingsError as exc:
        print(f"mirage-secrets: configuration error: {exc}", file=sys.stderr)
        return 2
    except (DomainError, RuntimeError) as exc:  # Vault down, embedded server failed to start, ...
        print(f"mirage-secrets: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
