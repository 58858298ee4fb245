"""A real Docker registry for tests: Debian's `docker-registry` (distribution 2.8) with htpasswd.

Bound to 127.0.0.1:<free port>, storage in a temporary directory, stopped (process group and
files) by `stop()`. Needs `/usr/bin/docker-registry` (apt package `docker-registry`) and
`htpasswd` (apt package `apache2-utils`) for the bcrypt password file distribution requires.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.ports import free_port
from tests.support.processes import stop_process_group

REGISTRY_BINARY = "/usr/bin/docker-registry"
START_TIMEOUT_S = 20.0

CONFIG_TEMPLATE = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: {secret}
auth:
  htpasswd:
    realm: mirage-test-registry
    path: {htpasswd}
"""


class RegistryUnavailable(RuntimeError):
    """The registry binary or htpasswd tool is missing, or the registry would not start."""


@dataclass
class LocalRegistry:
    host: str  # "127.0.0.1:<port>": what a user types as the registry
    users: Mapping[str, str]
    process: subprocess.Popen[bytes]
    workdir: Path = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        stop_process_group(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.workdir / "registry.log").read_text(errors="replace")[-2000:]
        return ""


def _htpasswd_binary() -> str:
    found = shutil.which("htpasswd")
    if not found:
        raise RegistryUnavailable("htpasswd not found: apt-get install apache2-utils")
    return found


def write_htpasswd(path: Path, users: Mapping[str, str]) -> None:
    """A bcrypt htpasswd file (distribution accepts bcrypt only)."""
    lines = []
    for username, password in users.items():
        # -i reads the password from stdin, so it never shows up in a process listing.
        result = subprocess.run(
            [_htpasswd_binary(), "-n", "-B", "-i", username],
            input=password.encode(),
            capture_output=True,
            check=True,
        )
        lines.append(result.stdout.decode().strip())
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def start_docker_registry(users: Mapping[str, str]) -> LocalRegistry:
    """Start a registry that accepts exactly `users` (name → password); wait until it answers."""
    if not os.access(REGISTRY_BINARY, os.X_OK):
        raise RegistryUnavailable(f"{REGISTRY_BINARY} not found: apt-get install docker-registry")
    workdir = Path(tempfile.mkdtemp(prefix="mirage-registry-"))
    try:
        htpasswd = workdir / "htpasswd"
        write_htpasswd(htpasswd, users)
        storage = workdir / "storage"
        storage.mkdir()
        port = free_port()
        config = workdir / "config.yml"
        config.write_text(
            CONFIG_TEMPLATE.format(storage=storage, port=port, secret=os.urandom(16).hex(), htpasswd=htpasswd)
        )
        log = (workdir / "registry.log").open("wb")
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    with log:
        process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() can signal the whole group
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},  # no REGISTRY_* overrides leak in
        )
    registry = LocalRegistry(host=f"127.0.0.1:{port}", users=dict(users), process=process, workdir=workdir)
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                output = registry.log_tail()
                registry.stop()
                raise RegistryUnavailable(f"docker-registry exited with code {process.returncode}:\n{output}")
            with contextlib.suppress(httpx.TransportError):
                # 401 with a Basic challenge: up, and htpasswd auth is on.
                if client.get(f"{registry.url}/v2/").status_code == 401:
                    return registry
            if time.monotonic() > deadline:
                output = registry.log_tail()
                registry.stop()
                raise RegistryUnavailable(f"docker-registry at {registry.host} not ready:\n{output}")
            time.sleep(0.1)


@contextlib.contextmanager
def docker_registry(users: Mapping[str, str]) -> Iterator[LocalRegistry]:
    registry = start_docker_registry(users)
    try:
        yield registry
    finally:
        registry.stop()


REGISTRY_USERS = {"mirage": "s3cret-Registry-pass", "bob": "another:pass word"}
