"""A served instance: `mirage-secrets serve` as its own process tree, on a free loopback port.

For the tests that must see the service from outside: several workers, concurrent clients over real
HTTP, schemathesis, the browser and the docs' examples. It talks to the real OpenBao, PostgreSQL and
Redis the session's fixtures started; `extra_env` overrides any setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from adapters.identity.dev_keys import issue_token
from tests.support.ports import free_port
from tests.support.processes import stop_process_group
from tests.support.providers import FakeGitHub, FakeRailway

READY_DEADLINE_SECONDS = 60


@dataclass(frozen=True)
class ServedInstance:
    url: str
    private_key_file: Path
    log_file: Path
    process: subprocess.Popen

    def token(self, subject: str, *, admin: bool = False) -> str:
        """A bearer token the instance accepts, signed with the session's test key."""
        return issue_token(self.private_key_file, subject, admin=admin)

    def headers(self, subject: str, *, admin: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, admin=admin)}"}

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")


def served_environment(
    *, vault_addr: str, vault_token: str, database_url: str, public_key_file: Path, port: int
) -> dict[str, str]:
    """The settings a served instance runs on (see the README's settings table)."""
    from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER

    return {
        "VAULT_ADDR": vault_addr,
        "VAULT_TOKEN": vault_token,
        "DATABASE_URL": database_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "AUTH_ISSUER": DEV_ISSUER,
        "AUTH_AUDIENCE": DEV_AUDIENCE,
        "AUTH_PUBLIC_KEY_FILE": str(public_key_file),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        # Its own rate-limit counters in the shared Redis, and budgets no ordinary test reaches
        # (the rate-limit tests set their own).
        "RATE_LIMIT_KEY_PREFIX": f"test:{port}:{os.getpid()}:ratelimit:",
        "RATE_LIMIT_PROVIDER_CALLS": "100000/minute",
        "RATE_LIMIT_FAILED_AUTH": "100000/minute",
        # Off unless a test asks (extra_env): a pass would act on every test's expired secrets.
        "SECRET_CLEANUP_INTERVAL_SECONDS": "0",
    }


@contextmanager
def serve(
    *,
    vault_addr: str,
    vault_token: str,
    database_url: str,
    signing_keys: tuple[Path, Path],
    log_dir: Path,
    workers: int = 2,
    extra_env: Mapping[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> Iterator[ServedInstance]:
    """Start the service, wait until `/readyz` answers 200, and stop the whole process group after."""
    port = free_port()
    env = {
        **os.environ,
        **served_environment(
            vault_addr=vault_addr,
            vault_token=vault_token,
            database_url=database_url,
            public_key_file=signing_keys[1],
            port=port,
        ),
        **(extra_env or {}),
    }
    log_file = log_dir / f"served-{port}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mirage-secrets"),
                "serve",
                "--workers",
                str(workers),
                *(extra_args or []),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    instance = ServedInstance(
        url=f"http://127.0.0.1:{port}", private_key_file=signing_keys[0], log_file=log_file, process=process
    )
    try:
        _wait_ready(instance)
        yield instance
    finally:
        stop_process_group(process)


def _wait_ready(instance: ServedInstance) -> None:
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            raise RuntimeError(f"the served instance exited with {instance.process.returncode}:\n{instance.log_text()}")
        try:
            answer = httpx.get(f"{instance.url}/readyz", timeout=2)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(
        f"the served instance was not ready in {READY_DEADLINE_SECONDS}s ({last}):\n{instance.log_text()}"
    )


@contextmanager
def serve_with_provider_fakes(
    *, openbao: Any, database_url: str, signing_keys: tuple[Path, Path], log_dir: Path, extra_env: Mapping[str, str]
) -> Iterator[tuple[ServedInstance, FakeRailway, FakeGitHub]]:
    """`serve` on the session's OpenBao with Railway and GitHub pointed at fresh wire fakes."""
    with (
        FakeRailway() as railway,
        FakeGitHub() as github,
        serve(
            vault_addr=openbao.addr,
            vault_token=openbao.root_token,
            database_url=database_url,
            signing_keys=signing_keys,
            log_dir=log_dir,
            extra_env={"RAILWAY_API_URL": railway.endpoint, "GITHUB_API_URL": github.api_url, **extra_env},
        ) as instance,
    ):
        yield instance, railway, github
