"""Settings from the environment: complete, one-line errors, no contradictions, no leaked tokens."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from entrypoints.settings import (
    DEFAULT_MOUNT,
    SettingsError,
    load_audit_retention_days,
    load_data_dir,
    load_dev_vault_port,
    load_server_settings,
    load_settings,
)

pytestmark = pytest.mark.unit


ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hvs.TOP-SECRET-TOKEN"
SECRET_ID = "TOP-SECRET-SECRET-ID"

VALID = {
    "VAULT_ADDR": "https://vault.internal:8200",
    "VAULT_TOKEN": TOKEN,
    "DATABASE_URL": "postgresql+asyncpg://mirage@db:5432/mirage",
    "AUTH_ISSUER": "https://clerk.example.com",
    "AUTH_AUDIENCE": "mirage-secrets",
    "AUTH_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json",
}


def env(**changes: str | None) -> dict[str, str]:
    merged = VALID | changes
    return {k: v for k, v in merged.items() if v is not None}


def refused(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_full_valid_environment() -> None:
    settings = load_settings(
        env(PORT="9000", HOST="0.0.0.0", REDIS_URL="redis://cache:6379/0", AUTH_ROLES_CLAIM="perms")
    )
    assert (settings.vault.addr, settings.vault.token, settings.vault.mount) == (VALID["VAULT_ADDR"], TOKEN, "mirage")
    assert settings.database.url == VALID["DATABASE_URL"]
    assert settings.redis.url == "redis://cache:6379/0"
    assert (settings.auth.issuer, settings.auth.audience) == (VALID["AUTH_ISSUER"], VALID["AUTH_AUDIENCE"])
    assert (settings.auth.jwks_url, settings.auth.public_key_file, settings.auth.roles_claim) == (
        VALID["AUTH_JWKS_URL"],
        None,
        "perms",
    )
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9000)
    assert settings.dev_mode is False


def test_defaults() -> None:
    settings = load_settings(env())
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8000)
    assert settings.redis.url is None
    assert settings.auth.roles_claim == "roles"
    assert settings.vault.mount == DEFAULT_MOUNT == "mirage"


def test_approle_with_public_key_file(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PUBLIC KEY-----\n")
    settings = load_settings(
        env(
            VAULT_TOKEN=None,
            VAULT_ROLE_ID="role",
            VAULT_SECRET_ID=SECRET_ID,
            AUTH_JWKS_URL=None,
            AUTH_PUBLIC_KEY_FILE=str(key),
            DATABASE_URL="sqlite+aiosqlite:///x.db",
        )
    )
    assert (settings.vault.token, settings.vault.role_id, settings.vault.secret_id) == (None, "role", SECRET_ID)
    assert settings.auth.public_key_file == str(key)


@pytest.mark.parametrize(
    "name", ["VAULT_ADDR", "VAULT_TOKEN", "DATABASE_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"]
)
def test_each_missing_required_variable_is_named(name: str) -> None:
    assert name in refused(env(**{name: None}))


@pytest.mark.parametrize("name", ["VAULT_ADDR", "DATABASE_URL", "AUTH_ISSUER"])
def test_blank_counts_as_missing(name: str) -> None:
    assert name in refused(env(**{name: "   "}))


def test_vault_token_and_role_id_together_are_refused() -> None:
    message = refused(env(VAULT_ROLE_ID="role", VAULT_SECRET_ID=SECRET_ID))
    assert "VAULT_TOKEN" in message and "VAULT_ROLE_ID" in message


def test_jwks_url_and_public_key_file_together_are_refused(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("x")
    message = refused(env(AUTH_PUBLIC_KEY_FILE=str(key)))
    assert "AUTH_JWKS_URL" in message and "AUTH_PUBLIC_KEY_FILE" in message


def test_role_id_without_secret_id_is_refused() -> None:
    assert "VAULT_SECRET_ID" in refused(env(VAULT_TOKEN=None, VAULT_ROLE_ID="role"))


def test_public_key_file_must_exist(tmp_path: Path) -> None:
    assert "AUTH_PUBLIC_KEY_FILE" in refused(env(AUTH_JWKS_URL=None, AUTH_PUBLIC_KEY_FILE=str(tmp_path / "absent.pem")))


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1", "80.5", "8000x"])
def test_bad_port_is_refused(port: str) -> None:
    assert "PORT" in refused(env(PORT=port))


def test_unicode_digit_port_is_a_settings_error() -> None:
    with pytest.raises(SettingsError):
        load_server_settings({"PORT": "²"})


@pytest.mark.parametrize("url", ["postgresql://u@db/m", "mysql://u@db/m", "sqlite:///x.db", "db.sqlite3"])
def test_database_url_needs_an_async_driver_scheme(url: str) -> None:
    assert "DATABASE_URL" in refused(env(DATABASE_URL=url))


def test_vault_addr_must_be_http() -> None:
    assert "VAULT_ADDR" in refused(env(VAULT_ADDR="vault.internal:8200"))


def test_vault_mount_is_one_segment() -> None:
    assert load_settings(env(VAULT_MOUNT="/team-secrets/")).vault.mount == "team-secrets"
    assert "VAULT_MOUNT" in refused(env(VAULT_MOUNT="a/b"))


def test_bad_boolean_flag_is_refused() -> None:
    assert "VAULT_SKIP_VERIFY" in refused(env(VAULT_SKIP_VERIFY="maybe"))


def test_vault_settings_never_print_the_token_or_secret_id() -> None:
    token_settings = load_settings(env()).vault
    approle = load_settings(env(VAULT_TOKEN=None, VAULT_ROLE_ID="role", VAULT_SECRET_ID=SECRET_ID))
    for text in (repr(token_settings), str(token_settings), f"{token_settings}", repr(approle), str(approle)):
        assert TOKEN not in text
        assert SECRET_ID not in text
    assert repr(load_settings(env())).count(TOKEN) == 0


def test_cli_serve_without_configuration_prints_one_line_and_exits_2() -> None:
    cli = ROOT / ".venv" / "bin" / "mirage-secrets"
    done = subprocess.run(
        [str(cli), "serve"],
        env={"PATH": os.environ["PATH"]},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mirage-secrets: configuration error:")
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_workers_default_to_the_cpu_count_and_web_concurrency_is_validated() -> None:
    assert load_server_settings({}).workers == max(1, os.cpu_count() or 1)
    assert load_server_settings({"WEB_CONCURRENCY": "3"}).workers == 3
    for bad in ("0", "-1", "two", "65", "1.5"):
        assert "WEB_CONCURRENCY" in refused(env(WEB_CONCURRENCY=bad))


def test_web_server_is_granian_by_default_and_validated() -> None:
    assert load_server_settings({}).server == "granian"
    assert load_server_settings({"WEB_SERVER": "uvicorn"}).server == "uvicorn"
    assert "WEB_SERVER" in refused(env(WEB_SERVER="gunicorn"))


def test_logging_and_telemetry_settings_are_validated_and_typed():
    default = load_settings(env()).telemetry
    assert (default.log_level, default.log_json, default.prometheus_multiproc_dir) == ("INFO", True, None)
    chosen = load_settings(
        env(LOG_LEVEL="debug", LOG_FORMAT="TEXT", OTEL_SERVICE_NAME="svc", PROMETHEUS_MULTIPROC_DIR="/run/prom")
    ).telemetry
    assert (chosen.log_level, chosen.log_json, chosen.prometheus_multiproc_dir) == ("DEBUG", False, "/run/prom")
    assert dict(chosen.otel) == {"OTEL_SERVICE_NAME": "svc"}
    assert "LOG_LEVEL" in refused(env(LOG_LEVEL="chatty"))
    assert "LOG_FORMAT" in refused(env(LOG_FORMAT="yaml"))


@pytest.mark.parametrize(
    ("loader", "name", "default", "bad"),
    [
        (load_dev_vault_port, "MIRAGE_DEV_VAULT_PORT", 8200, ["0", "65536", "http"]),
        (load_audit_retention_days, "AUDIT_RETENTION_DAYS", 30, ["-1", "a month", "1.5"]),
    ],
)
def test_whole_number_settings_have_a_default_and_refuse_junk(loader, name, default, bad):
    assert loader({}) == default
    assert loader({name: "7"}) == 7
    for raw in bad:
        with pytest.raises(SettingsError, match=name):
            loader({name: raw})


def test_the_purge_flag_wins_over_the_retention_variable_and_is_checked_the_same_way():
    assert load_audit_retention_days({"AUDIT_RETENTION_DAYS": "0"}, "5") == 5
    with pytest.raises(SettingsError, match="--days"):
        load_audit_retention_days({}, "-1")


def test_the_dev_data_dir_defaults_to_dot_data(tmp_path):
    assert load_data_dir({}) == Path(".data").resolve()
    assert load_data_dir({"MIRAGE_DATA_DIR": str(tmp_path)}) == tmp_path.resolve()
