"""The `mirage-secrets` console script of this venv, run as an operator would (a clean environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER

CLI = str(Path(sys.executable).with_name("mirage-secrets"))


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=60
    )


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """`mirage-secrets ARGS` with exactly `env` on top of PATH; output captured as text."""
    return subprocess.run(
        [CLI, *args],
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env},
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def service_env(*, vault_addr: str, vault_token: str, database_url: str, public_key_file: Path) -> dict[str, str]:
    return {
        "VAULT_ADDR": vault_addr,
        "VAULT_TOKEN": vault_token,
        "DATABASE_URL": database_url,
        # The operator's commands use the service's settings: with Redis, their writes invalidate
        # every instance's cached copy.
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "AUTH_ISSUER": DEV_ISSUER,
        "AUTH_AUDIENCE": DEV_AUDIENCE,
        "AUTH_PUBLIC_KEY_FILE": str(public_key_file),
        "LOG_LEVEL": "WARNING",
    }
