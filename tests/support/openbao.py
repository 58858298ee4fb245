"""Throwaway in-memory OpenBao dev servers for tests.

``bao server -dev`` starts unsealed with a KV v2 engine at ``secret/`` and
keeps everything in memory, so each server is a clean slate and vanishes on
stop.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from adapters.vault.embedded import find_bao_binary
from tests.support.ports import free_port
from tests.support.processes import stop_process_group

# The KV v2 mount the session fixtures bootstrap and every test writes under.
MOUNT = "mirage"
START_TIMEOUT_S = 20.0


@dataclass
class DevOpenBao:
    addr: str
    root_token: str
    process: subprocess.Popen[bytes]
    log_path: Path = field(repr=False)

    def stop(self) -> None:
        stop_process_group(self.process)
        self.log_path.unlink(missing_ok=True)


def start_dev_openbao(port: int | None = None, *, config_file: Path | None = None) -> DevOpenBao:
    """Start an in-memory dev server on 127.0.0.1 and wait until it is active.

    `config_file` adds server configuration on top of dev mode, e.g. an audit device (OpenBao
    declares those in its configuration, not through the API).
    """
    # The dev server also opens a cluster listener on port + 1.
    port = port or free_port(consecutive=2)
    addr = f"http://127.0.0.1:{port}"
    token = f"test-{secrets.token_hex(12)}"
    fd, log_name = tempfile.mkstemp(prefix="openbao-dev-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(
            [
                find_bao_binary(),
                "server",
                "-dev",
                f"-dev-root-token-id={token}",
                f"-dev-listen-address=127.0.0.1:{port}",
                *([f"-config={config_file}"] if config_file else []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() can signal the whole group
        )
    server = DevOpenBao(addr=addr, root_token=token, process=process, log_path=log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=addr, timeout=2.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                output = log_path.read_text(errors="replace")[-2000:]
                server.stop()
                raise RuntimeError(f"bao dev server exited with code {process.returncode}:\n{output}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/v1/sys/health").status_code == 200:
                    return server
            if time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")[-2000:]
                server.stop()
                raise RuntimeError(f"bao dev server at {addr} not healthy after {START_TIMEOUT_S:.0f}s:\n{output}")
            time.sleep(0.1)
