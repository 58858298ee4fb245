"""Typed settings, read from the environment once by the entrypoint and passed down.

The only module that reads environment variables (tests/unit/test_settings_home.py fails the build
otherwise); each one is validated here and listed in the README's settings table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from domain.rate_limits import Limit
from services.audit_service import DEFAULT_RETENTION_DAYS

DEFAULT_MOUNT = "mirage"


class SettingsError(ValueError):
    """A missing or contradictory setting; its message is the one line the operator sees."""


class VaultSettings(msgspec.Struct, frozen=True):
    addr: str  # the first of `addresses`: what single-address clients use
    token: str | None = None
    role_id: str | None = None
    secret_id: str | None = None
    namespace: str | None = None
    skip_verify: bool = False
    mount: str = DEFAULT_MOUNT
    timeout_seconds: float = 5.0
    user_auth: str = "token"  # "jwt": each user's operations run with that user's own Vault token
    jwt_auth_path: str = "jwt"
    wrapped_secret_id: str | None = None  # a response-wrapping token that unwraps to the secret id
    approle_mount: str = "approle"
    retry_attempts: int = 3
    breaker_failures: int = 5
    breaker_cooldown_seconds: int = 10
    # Every node of an HA cluster (VAULT_ADDR="http://a:8200,http://b:8200"); the clients follow the
    # active one (adapters/vault/address_pool.py). Empty means just `addr`.
    addresses: tuple[str, ...] = ()

    @property
    def all_addresses(self) -> tuple[str, ...]:
        return self.addresses or (self.addr,)

    def __repr__(self) -> str:  # the token and secret id must never reach a log line
        return (
            f"VaultSettings(addr={self.addr!r}, mount={self.mount!r}, approle={self.role_id is not None}, "
            f"user_auth={self.user_auth!r})"
        )


class DatabaseSettings(msgspec.Struct, frozen=True):
    """`url`: what the service connects with (on PostgreSQL, a role that may only INSERT and
    SELECT audit events). `admin_url`: the tables' owner, for `db upgrade` and `audit prune`
    only (never the serving process). `audit_witness_interval`: seconds between publications of
    the audit chain heads to Vault (0: off), under `audit_witness_path` of the KV mount (one path
    per audit database)."""

    url: str
    admin_url: str | None = None
    audit_witness_interval: float = 10.0
    audit_witness_path: str = "service/audit-witness"

    def __repr__(self) -> str:  # the URLs may carry a password
        admin = _without_password(self.admin_url) if self.admin_url else None
        return (
            f"DatabaseSettings(url={_without_password(self.url)!r}, admin_url={admin!r}, "
            f"audit_witness_interval={self.audit_witness_interval!r})"
        )


class RedisSettings(msgspec.Struct, frozen=True):
    url: str | None = None

    def __repr__(self) -> str:  # the URL may carry a password
        return f"RedisSettings(url={_without_password(self.url) if self.url else None!r})"


class CacheSettings(msgspec.Struct, frozen=True):
    ttl_seconds: int = 300  # 0 turns caching off
    max_stale_seconds: int = 3600


class AuthSettings(msgspec.Struct, frozen=True):
    issuer: str
    audience: str
    jwks_url: str | None = None
    public_key_file: str | None = None
    roles_claim: str = "roles"


MAX_WORKERS = 64
WEB_SERVERS = ("granian", "uvicorn")


def default_workers() -> int:
    """One worker per CPU, as OpenBao uses every core."""
    return max(1, os.cpu_count() or 1)


class ServerSettings(msgspec.Struct, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # WEB_CONCURRENCY; `load_server_settings` defaults it to the CPU count
    server: str = "granian"  # WEB_SERVER: "granian" or "uvicorn"


DEFAULT_RAILWAY_API_URL = "https://backboard.railway.com/graphql/v2"
DEFAULT_GITHUB_API_URL = "https://api.github.com"


class ProviderSettings(msgspec.Struct, frozen=True):
    railway_api_url: str = DEFAULT_RAILWAY_API_URL
    github_api_url: str = DEFAULT_GITHUB_API_URL
    docker_insecure_registries: tuple[str, ...] = ()
    secrets_vault_enabled: bool = True
    railway_api_token: str | None = None  # legacy shared token (RAILWAY_API_TOKEN)
    railway_env_fallback: bool = True
    railway_token_max_age_days: int = 90
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:  # the legacy token must never reach a log line
        return (
            f"ProviderSettings(railway_api_url={self.railway_api_url!r}, github_api_url={self.github_api_url!r}, "
            f"docker_insecure_registries={self.docker_insecure_registries!r}, "
            f"secrets_vault_enabled={self.secrets_vault_enabled}, "
            f"railway_api_token={'***' if self.railway_api_token else None}, "
            f"railway_env_fallback={self.railway_env_fallback}, "
            f"railway_token_max_age_days={self.railway_token_max_age_days}, timeout_seconds={self.timeout_seconds})"
        )

    __str__ = __repr__


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")


DEFAULT_ACCESS_LOG_SAMPLE = 0.01


class TelemetrySettings(msgspec.Struct, frozen=True):
    log_level: str = "INFO"
    log_json: bool = True  # LOG_FORMAT=json (one object a line) or text
    # ACCESS_LOG_SAMPLE: the share of successful access lines kept (every 4xx/5xx is kept).
    access_sample: float = DEFAULT_ACCESS_LOG_SAMPLE
    # OpenTelemetry's standard OTEL_* variables, as given: the SDK's exporter setup interprets them.
    otel: Mapping[str, str] = msgspec.field(default_factory=dict)
    # Several workers write their samples there and /metrics adds them up; None: one process.
    prometheus_multiproc_dir: str | None = None


class RateLimitSettings(msgspec.Struct, frozen=True):
    """Per-user provider calls and per-address failed logins; counted in Redis when REDIS_URL is set."""

    provider_calls: Limit = Limit(10, 60)
    failed_auth: Limit = Limit(20, 60)
    key_prefix: str = "mirage:ratelimit:"


# The built web UI (`make install` writes it here); UI_DIST_DIR points elsewhere.
DEFAULT_UI_DIST_DIR = Path(__file__).resolve().parent / "http" / "ui_dist"


class UiSettings(msgspec.Struct, frozen=True):
    dist_dir: str = str(DEFAULT_UI_DIST_DIR)
    # Only under `mirage-secrets dev`: the key the development sign-in endpoint signs with.
    dev_signing_key_file: str | None = None


class LifecycleSettings(msgspec.Struct, frozen=True):
    recovery_days: int = 30  # an expired secret stays restorable by rollback this long, then is destroyed
    cleanup_interval_seconds: int = 300  # how often the cleanup pass runs; 0: never in the service


class Settings(msgspec.Struct, frozen=True):
    vault: VaultSettings
    database: DatabaseSettings
    redis: RedisSettings
    auth: AuthSettings
    cache: CacheSettings
    server: ServerSettings
    dev_mode: bool = False
    providers: ProviderSettings = ProviderSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    ui: UiSettings = UiSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()


def _default(struct: type[msgspec.Struct], name: str) -> Any:
    """A field's default, so that a loader's fallback and the struct's default are one number."""
    return next(field.default for field in msgspec.structs.fields(struct) if field.name == name)


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _required(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise SettingsError(f"{name} is not set")
    return value


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def load_vault_settings(env: Mapping[str, str]) -> VaultSettings:
    token, role_id = _optional(env, "VAULT_TOKEN"), _optional(env, "VAULT_ROLE_ID")
    secret_id, wrapped = _optional(env, "VAULT_SECRET_ID"), _optional(env, "VAULT_WRAPPED_SECRET_ID")
    if token and role_id:
        raise SettingsError("set either VAULT_TOKEN or VAULT_ROLE_ID/VAULT_SECRET_ID, not both")
    if not token and not role_id:
        raise SettingsError("VAULT_TOKEN or VAULT_ROLE_ID (with VAULT_SECRET_ID) is required")
    if secret_id and wrapped:
        raise SettingsError("set either VAULT_SECRET_ID or VAULT_WRAPPED_SECRET_ID, not both")
    if role_id and not (secret_id or wrapped):
        raise SettingsError("VAULT_ROLE_ID needs VAULT_SECRET_ID or VAULT_WRAPPED_SECRET_ID")
    addresses = _vault_addresses(_required(env, "VAULT_ADDR"))
    addr = addresses[0]
    mount = (_optional(env, "VAULT_MOUNT") or DEFAULT_MOUNT).strip("/")
    if not mount or "/" in mount:
        raise SettingsError(f"VAULT_MOUNT must be a single path segment, not {mount!r}")
    user_auth = (_optional(env, "VAULT_USER_AUTH") or "token").lower()
    if user_auth not in ("token", "jwt"):
        raise SettingsError(f"VAULT_USER_AUTH must be 'token' or 'jwt', not {user_auth!r}")
    return VaultSettings(
        user_auth=user_auth,
        jwt_auth_path=(_optional(env, "VAULT_JWT_AUTH_PATH") or "jwt").strip("/"),
        addr=addr,
        addresses=addresses,
        token=token,
        role_id=role_id,
        secret_id=secret_id,
        wrapped_secret_id=wrapped,
        approle_mount=(_optional(env, "VAULT_APPROLE_MOUNT") or "approle").strip("/"),
        timeout_seconds=float(_seconds(env, "VAULT_TIMEOUT_SECONDS", int(_default(VaultSettings, "timeout_seconds")))),
        retry_attempts=max(1, _seconds(env, "VAULT_RETRY_ATTEMPTS", _default(VaultSettings, "retry_attempts"))),
        breaker_failures=max(1, _seconds(env, "VAULT_BREAKER_FAILURES", _default(VaultSettings, "breaker_failures"))),
        breaker_cooldown_seconds=max(
            1, _seconds(env, "VAULT_BREAKER_COOLDOWN_SECONDS", _default(VaultSettings, "breaker_cooldown_seconds"))
        ),
        namespace=_optional(env, "VAULT_NAMESPACE"),
        skip_verify=_flag(env, "VAULT_SKIP_VERIFY"),
        mount=mount,
    )


def _vault_addresses(raw: str) -> tuple[str, ...]:
    """VAULT_ADDR: one URL, or the cluster's nodes as a comma-separated list (no empty entries)."""
    parts = [part.strip() for part in raw.split(",")]
    if any(not part for part in parts):
        raise SettingsError(f"VAULT_ADDR has an empty entry: {raw!r}")
    addresses: list[str] = []
    for part in parts:
        if not part.startswith(("http://", "https://")) or not urlsplit(part).netloc:
            raise SettingsError(f"VAULT_ADDR must be http(s) URLs, not {part!r}")
        if part.rstrip("/") in addresses:
            raise SettingsError(f"VAULT_ADDR names {part!r} twice")
        addresses.append(part.rstrip("/"))
    return tuple(addresses)


def load_database_settings(env: Mapping[str, str]) -> DatabaseSettings:
    url = _required(env, "DATABASE_URL")
    if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        raise SettingsError("DATABASE_URL must be a postgresql+asyncpg:// or sqlite+aiosqlite:// URL")
    admin_url = _optional(env, "DATABASE_ADMIN_URL")
    if admin_url is not None and admin_url.split("://", 1)[0] != url.split("://", 1)[0]:
        raise SettingsError("DATABASE_ADMIN_URL must use the same driver as DATABASE_URL")
    raw_interval = _optional(env, "AUDIT_WITNESS_INTERVAL_SECONDS") or "10"
    try:
        interval = float(raw_interval)
    except ValueError:
        raise SettingsError(f"AUDIT_WITNESS_INTERVAL_SECONDS must be a number, got {raw_interval!r}") from None
    if not 0 <= interval <= 86_400 or interval != interval:
        raise SettingsError("AUDIT_WITNESS_INTERVAL_SECONDS must be between 0 (off) and 86400")
    witness_path = _optional(env, "AUDIT_WITNESS_PATH") or "service/audit-witness"
    if not re.fullmatch(r"service/[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", witness_path):
        raise SettingsError("AUDIT_WITNESS_PATH must be a path under service/ (letters, digits, - and _)")
    return DatabaseSettings(
        url=url, admin_url=admin_url, audit_witness_interval=interval, audit_witness_path=witness_path
    )


def load_auth_settings(env: Mapping[str, str]) -> AuthSettings:
    jwks_url, key_file = _optional(env, "AUTH_JWKS_URL"), _optional(env, "AUTH_PUBLIC_KEY_FILE")
    if jwks_url and key_file:
        raise SettingsError("set either AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE, not both")
    if not jwks_url and not key_file:
        raise SettingsError("AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE is required to verify bearer tokens")
    if key_file and not Path(key_file).is_file():
        raise SettingsError(f"AUTH_PUBLIC_KEY_FILE {key_file!r} does not exist")
    return AuthSettings(
        issuer=_required(env, "AUTH_ISSUER"),
        audience=_required(env, "AUTH_AUDIENCE"),
        jwks_url=jwks_url,
        public_key_file=key_file,
        roles_claim=_optional(env, "AUTH_ROLES_CLAIM") or _default(AuthSettings, "roles_claim"),
    )


def load_optional_auth_settings(env: Mapping[str, str]) -> AuthSettings | None:
    """The auth settings when AUTH_ISSUER is set (`vault bootstrap` then sets up JWT auth too), else None."""
    return load_auth_settings(env) if _optional(env, "AUTH_ISSUER") else None


def load_server_settings(env: Mapping[str, str]) -> ServerSettings:
    port_raw = _optional(env, "PORT") or str(_default(ServerSettings, "port"))
    if not (port_raw.isascii() and port_raw.isdigit()) or not 0 < int(port_raw) < 65536:
        raise SettingsError(f"PORT must be a port number, not {port_raw!r}")
    workers_raw = _optional(env, "WEB_CONCURRENCY")
    if workers_raw is None:
        workers = default_workers()
    elif workers_raw.isascii() and workers_raw.isdigit() and 1 <= int(workers_raw) <= MAX_WORKERS:
        workers = int(workers_raw)
    else:
        raise SettingsError(
            f"WEB_CONCURRENCY must be a whole number of workers from 1 to {MAX_WORKERS}, not {workers_raw!r}"
        )
    server = (_optional(env, "WEB_SERVER") or "granian").lower()
    if server not in WEB_SERVERS:
        raise SettingsError(f"WEB_SERVER must be one of {', '.join(WEB_SERVERS)}, not {server!r}")
    return ServerSettings(
        host=_optional(env, "HOST") or "127.0.0.1", port=int(port_raw), workers=workers, server=server
    )


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _optional(env, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise SettingsError(f"{name} must be a whole number of seconds, not {raw!r}")
    return int(raw)


def load_cache_settings(env: Mapping[str, str]) -> CacheSettings:
    ttl = _seconds(env, "CACHE_TTL_SECONDS", _default(CacheSettings, "ttl_seconds"))
    max_stale = _seconds(env, "CACHE_MAX_STALE_SECONDS", _default(CacheSettings, "max_stale_seconds"))
    if ttl and max_stale < ttl:
        raise SettingsError("CACHE_MAX_STALE_SECONDS must be at least CACHE_TTL_SECONDS")
    return CacheSettings(ttl_seconds=ttl, max_stale_seconds=max_stale)


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    url = _optional(env, name) or default
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL, not {url!r}")
    return url


def load_provider_settings(env: Mapping[str, str]) -> ProviderSettings:
    timeout_raw = _optional(env, "PROVIDER_TIMEOUT_SECONDS") or str(_default(ProviderSettings, "timeout_seconds"))
    try:
        timeout = float(timeout_raw)
    except ValueError:
        raise SettingsError(f"PROVIDER_TIMEOUT_SECONDS must be a number of seconds, not {timeout_raw!r}") from None
    if not 0 < timeout <= 300:
        raise SettingsError("PROVIDER_TIMEOUT_SECONDS must be between 0 and 300")
    max_age_raw = _optional(env, "RAILWAY_TOKEN_MAX_AGE_DAYS") or str(
        _default(ProviderSettings, "railway_token_max_age_days")
    )
    if not (max_age_raw.isascii() and max_age_raw.isdigit()) or int(max_age_raw) < 1:
        raise SettingsError(f"RAILWAY_TOKEN_MAX_AGE_DAYS must be a whole number of days, not {max_age_raw!r}")
    insecure = tuple(
        host.strip().lower() for host in (env.get("DOCKER_INSECURE_REGISTRIES") or "").split(",") if host.strip()
    )
    return ProviderSettings(
        railway_api_url=_http_url(env, "RAILWAY_API_URL", DEFAULT_RAILWAY_API_URL),
        github_api_url=_http_url(env, "GITHUB_API_URL", DEFAULT_GITHUB_API_URL),
        docker_insecure_registries=insecure,
        secrets_vault_enabled=_flag(env, "SECRETS_VAULT_ENABLED", default=True),
        railway_api_token=_optional(env, "RAILWAY_API_TOKEN"),
        railway_env_fallback=_flag(env, "RAILWAY_ENV_FALLBACK", default=True),
        railway_token_max_age_days=int(max_age_raw),
        timeout_seconds=timeout,
    )


def load_telemetry_settings(env: Mapping[str, str]) -> TelemetrySettings:
    level = (_optional(env, "LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    log_format = (_optional(env, "LOG_FORMAT") or "json").lower()
    if log_format not in LOG_FORMATS:
        raise SettingsError(f"LOG_FORMAT must be 'json' or 'text', not {log_format!r}")
    raw_sample = _optional(env, "ACCESS_LOG_SAMPLE")
    access_sample = DEFAULT_ACCESS_LOG_SAMPLE
    if raw_sample is not None:
        try:
            access_sample = float(raw_sample)
        except ValueError:
            raise SettingsError(f"ACCESS_LOG_SAMPLE must be a number from 0 to 1, not {raw_sample!r}") from None
        if not 0 <= access_sample <= 1:
            raise SettingsError(f"ACCESS_LOG_SAMPLE must be a number from 0 to 1, not {raw_sample!r}")
    return TelemetrySettings(
        log_level=level,
        log_json=log_format == "json",
        access_sample=access_sample,
        otel={name: value for name, value in env.items() if name.startswith("OTEL_")},
        prometheus_multiproc_dir=_optional(env, "PROMETHEUS_MULTIPROC_DIR"),
    )


def _whole_number(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = _optional(env, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise SettingsError(f"{name} must be a whole number from {minimum} to {maximum}, not {raw!r}")
    return int(raw)


DEFAULT_DATA_DIR = ".data"
DEFAULT_DEV_VAULT_PORT = 8200


def load_audit_retention_days(env: Mapping[str, str], override: str | None = None) -> int:
    """AUDIT_RETENTION_DAYS, or `override` (the purge command's --days) when given; 0 keeps nothing."""
    name = "AUDIT_RETENTION_DAYS" if override is None else "--days"
    source = env if override is None else {name: override}
    return _whole_number(source, name, DEFAULT_RETENTION_DAYS, minimum=0, maximum=100_000)


def load_data_dir(env: Mapping[str, str]) -> Path:
    """MIRAGE_DATA_DIR: where `mirage-secrets dev` keeps OpenBao's data, the SQLite file and dev keys."""
    return Path(_optional(env, "MIRAGE_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


def load_dev_vault_port(env: Mapping[str, str]) -> int:
    """MIRAGE_DEV_VAULT_PORT: the embedded OpenBao's port under `mirage-secrets dev`."""
    return _whole_number(env, "MIRAGE_DEV_VAULT_PORT", DEFAULT_DEV_VAULT_PORT, minimum=1, maximum=65535)


_WINDOW_UNITS = {"second": 1, "minute": 60, "hour": 3600}


def _limit(env: Mapping[str, str], name: str, default: Limit) -> Limit:
    """`N/second`, `N/minute` or `N/hour` (e.g. `10/minute`)."""
    raw = _optional(env, name)
    if raw is None:
        return default
    count, _, unit = raw.partition("/")
    count, unit = count.strip(), unit.strip().lower()
    if not (count.isascii() and count.isdigit()) or int(count) < 1 or unit not in _WINDOW_UNITS:
        raise SettingsError(f"{name} must look like 10/minute (per second, minute or hour), not {raw!r}")
    return Limit(int(count), _WINDOW_UNITS[unit])


def load_rate_limit_settings(env: Mapping[str, str]) -> RateLimitSettings:
    defaults = RateLimitSettings()
    return RateLimitSettings(
        provider_calls=_limit(env, "RATE_LIMIT_PROVIDER_CALLS", defaults.provider_calls),
        failed_auth=_limit(env, "RATE_LIMIT_FAILED_AUTH", defaults.failed_auth),
        key_prefix=_optional(env, "RATE_LIMIT_KEY_PREFIX") or defaults.key_prefix,
    )


MAX_RECOVERY_DAYS = 3650


def load_lifecycle_settings(env: Mapping[str, str]) -> LifecycleSettings:
    raw = _optional(env, "SECRET_RECOVERY_DAYS") or str(_default(LifecycleSettings, "recovery_days"))
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_RECOVERY_DAYS:
        raise SettingsError(
            f"SECRET_RECOVERY_DAYS must be a whole number of days, 0 to {MAX_RECOVERY_DAYS}, not {raw!r}"
        )
    recovery = int(raw)
    interval = _seconds(env, "SECRET_CLEANUP_INTERVAL_SECONDS", _default(LifecycleSettings, "cleanup_interval_seconds"))
    if interval > 86400:
        raise SettingsError("SECRET_CLEANUP_INTERVAL_SECONDS must be 0 (off) or 1 to 86400")
    return LifecycleSettings(recovery_days=recovery, cleanup_interval_seconds=interval)


DEFAULT_CLIENT_URL = "http://127.0.0.1:8000"
CLIENT_TOKEN_VARIABLE = "MIRAGE_TOKEN"


class ClientSettings(msgspec.Struct, frozen=True):
    """What `mirage-secrets run` / `env export` (clients of the API) read: never the service's settings."""

    url: str = DEFAULT_CLIENT_URL
    token: str | None = None

    def __repr__(self) -> str:  # the bearer token must never reach a log line
        return f"ClientSettings(url={self.url!r}, token={'***' if self.token else None})"

    __str__ = __repr__


def load_client_settings(env: Mapping[str, str]) -> ClientSettings:
    """MIRAGE_URL (the service, default http://127.0.0.1:8000) and MIRAGE_TOKEN (the caller's bearer token)."""
    return ClientSettings(
        url=_http_url(env, "MIRAGE_URL", DEFAULT_CLIENT_URL).rstrip("/"),
        token=_optional(env, CLIENT_TOKEN_VARIABLE),
    )


def environment_for_child(env: Mapping[str, str]) -> dict[str, str]:
    """The environment `mirage-secrets run` hands its command: all of it but the caller's token."""
    return {name: value for name, value in env.items() if name != CLIENT_TOKEN_VARIABLE}


def dev_data_dir(env: Mapping[str, str]) -> Path:
    """Where `mirage-secrets dev` keeps OpenBao's data, the SQLite file and the dev signing key."""
    return load_data_dir(env)


def dev_signing_key_path(env: Mapping[str, str]) -> Path:
    return dev_data_dir(env) / "auth" / "dev-signing-key.pem"


def load_ui_settings(env: Mapping[str, str], *, dev_signing_key_file: Path | None = None) -> UiSettings:
    dist_dir = _optional(env, "UI_DIST_DIR")
    return UiSettings(
        dist_dir=str(Path(dist_dir).resolve()) if dist_dir else str(DEFAULT_UI_DIST_DIR),
        dev_signing_key_file=str(dev_signing_key_file) if dev_signing_key_file else None,
    )


def load_settings(
    env: Mapping[str, str], *, dev_mode: bool = False, dev_signing_key_file: Path | None = None
) -> Settings:
    """Build settings from environment variables; raises `SettingsError` with one clear line.

    Development mode (and the key its sign-in endpoint signs with) is never read from the
    environment: only `mirage-secrets dev` turns it on, so no production setting can."""
    if dev_signing_key_file is not None and not dev_mode:
        raise SettingsError("a development signing key is for development mode only")
    return Settings(
        vault=load_vault_settings(env),
        database=load_database_settings(env),
        redis=RedisSettings(url=_optional(env, "REDIS_URL")),
        auth=load_auth_settings(env),
        cache=load_cache_settings(env),
        server=load_server_settings(env),
        dev_mode=dev_mode,
        providers=load_provider_settings(env),
        telemetry=load_telemetry_settings(env),
        rate_limits=load_rate_limit_settings(env),
        ui=load_ui_settings(env, dev_signing_key_file=dev_signing_key_file),
        lifecycle=load_lifecycle_settings(env),
    )


class BackupSettings(msgspec.Struct, frozen=True):
    """`mirage-secrets backup ...`: where backups go and with which (non-root) Vault identity."""

    directory: Path
    token: str | None = None  # BACKUP_VAULT_TOKEN: a token with backup-policy only
    role_id: str | None = None  # or AppRole: BACKUP_VAULT_ROLE_ID + BACKUP_VAULT_SECRET_ID
    secret_id: str | None = None
    metrics_file: Path | None = None  # node_exporter textfile for mirage_backup_last_success_timestamp_seconds
    hourly: bool = False  # keep hourly backups for 7 days as well as daily ones for 30
    daily_days: int = 30
    hourly_days: int = 7
    interval_seconds: int = 86400  # `backup schedule`: one backup per interval

    def __repr__(self) -> str:  # the token and secret id must never reach a log line
        return f"BackupSettings(directory={str(self.directory)!r}, approle={self.role_id is not None})"


def load_backup_settings(env: Mapping[str, str]) -> BackupSettings:
    token, role_id = _optional(env, "BACKUP_VAULT_TOKEN"), _optional(env, "BACKUP_VAULT_ROLE_ID")
    secret_id = _optional(env, "BACKUP_VAULT_SECRET_ID")
    if token and role_id:
        raise SettingsError("set either BACKUP_VAULT_TOKEN or BACKUP_VAULT_ROLE_ID/BACKUP_VAULT_SECRET_ID, not both")
    if role_id and not secret_id:
        raise SettingsError("BACKUP_VAULT_ROLE_ID needs BACKUP_VAULT_SECRET_ID")
    interval = _seconds(env, "BACKUP_INTERVAL_SECONDS", _default(BackupSettings, "interval_seconds"))
    if interval < 60:
        raise SettingsError("BACKUP_INTERVAL_SECONDS must be at least 60")
    metrics = _optional(env, "BACKUP_METRICS_FILE")
    return BackupSettings(
        directory=Path(_optional(env, "BACKUP_DIR") or "backups"),
        token=token,
        role_id=role_id,
        secret_id=secret_id,
        metrics_file=Path(metrics) if metrics else None,
        hourly=_flag(env, "BACKUP_HOURLY"),
        daily_days=max(1, _seconds(env, "BACKUP_DAILY_RETENTION_DAYS", _default(BackupSettings, "daily_days"))),
        hourly_days=max(1, _seconds(env, "BACKUP_HOURLY_RETENTION_DAYS", _default(BackupSettings, "hourly_days"))),
        interval_seconds=interval,
    )


def load_vault_addresses(env: Mapping[str, str]) -> tuple[str, ...]:
    """VAULT_ADDR alone (the operator commands init/unseal/status need no token)."""
    return _vault_addresses(_required(env, "VAULT_ADDR"))


class OperatorSettings(msgspec.Struct, frozen=True):
    """What the operator commands (`backup ...`, `vault status`) read besides their own settings;
    nothing here is required, each command says what it needs."""

    mount: str = DEFAULT_MOUNT
    token: str | None = None  # VAULT_TOKEN
    role_id: str | None = None  # or AppRole: VAULT_ROLE_ID + VAULT_SECRET_ID
    secret_id: str | None = None
    approle_mount: str = "approle"
    database_url: str | None = None  # DATABASE_URL: dumped with the backup, reconciled after a restore
    restore_token: str | None = None  # VAULT_RESTORE_TOKEN: the restored cluster's token, if it has one

    def __repr__(self) -> str:  # tokens and the secret id must never reach a log line
        return f"OperatorSettings(mount={self.mount!r}, approle={self.role_id is not None})"

    __str__ = __repr__


def load_operator_settings(env: Mapping[str, str]) -> OperatorSettings:
    mount = (_optional(env, "VAULT_MOUNT") or DEFAULT_MOUNT).strip("/")
    if not mount or "/" in mount:
        raise SettingsError(f"VAULT_MOUNT must be a single path segment, not {mount!r}")
    database_url = _optional(env, "DATABASE_URL")
    if database_url is not None:
        database_url = load_database_settings(env).url  # the same check the service makes
    return OperatorSettings(
        mount=mount,
        token=_optional(env, "VAULT_TOKEN"),
        role_id=_optional(env, "VAULT_ROLE_ID"),
        secret_id=_optional(env, "VAULT_SECRET_ID"),
        approle_mount=(_optional(env, "VAULT_APPROLE_MOUNT") or _default(OperatorSettings, "approle_mount")).strip("/"),
        database_url=database_url,
        restore_token=_optional(env, "VAULT_RESTORE_TOKEN"),
    )


def vault_configured(env: Mapping[str, str]) -> bool:
    """Whether VAULT_ADDR is set (`audit verify` then checks the heads witnessed in Vault too)."""
    return _optional(env, "VAULT_ADDR") is not None
