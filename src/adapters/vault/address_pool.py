"""Several Vault addresses, one of them active: follow the active node of a Raft cluster.

`VaultAddressPool` holds the cluster's API addresses (VAULT_ADDR as a comma-separated list) and
remembers which one answered last. `FailoverSession` is a `requests.Session` for hvac: hvac builds
every URL on the pool's first address, and the session sends it to the active address instead; when
that node refuses the connection, or answers as a sealed/standby node that cannot reach an active
one, the session moves to the next address (after asking each node's `sys/health` which one is
active) and tries again, until a bounded deadline.

Invariants:
- A request is re-sent to another node only when the first certainly did not act on it: the
  connection could not be opened, or Vault answered that it is sealed, standby without an active
  node, or not the active node (503/500/502 with such a message, or 429 from `sys/health`). A read
  timeout, or a reset after the request went out, is raised as it is: the caller decides.
- With one address the session behaves exactly like a plain pooled `requests.Session`.

The async data path (aiohttp) uses the same pool without this session:

    for addr in pool.attempts():            # active first, then the others, bounded in time
        try:
            response = await http.request(method, addr + path, ...)
        except aiohttp.ClientConnectorError:
            pool.mark_failed(addr); continue
        if is_failover_answer(response.status, await response.text()):
            pool.mark_failed(addr); continue
        pool.mark_active(addr); return response

`pool.locate_active(probe)` (probe: address -> `sys/health` status code or None) picks the active
node after a failure; `FailoverSession` calls it with a short-timeout GET.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter

# Vault's phrases for "this node can't serve you now, but another might" (OpenBao 2.x, Vault 1.x).
_NOT_ACTIVE_PHRASES = (
    "vault is sealed",
    "active cluster node not found",
    "node not active",
    "local node not active",
    "standby",
    "leadership",
    "no leader",
)

# sys/health codes: 200 active, 429 unsealed standby, 472 DR secondary, 473 performance standby,
# 501 not initialised, 503 sealed.
ACTIVE_HEALTH_CODES = frozenset({200})


def parse_addresses(raw: str) -> tuple[str, ...]:
    """`"http://a:8200, http://b:8200/"` -> `("http://a:8200", "http://b:8200")`, order kept, no repeats."""
    seen: list[str] = []
    for part in raw.split(","):
        addr = part.strip().rstrip("/")
        if addr and addr not in seen:
            seen.append(addr)
    return tuple(seen)


def is_failover_answer(status: int, body: str) -> bool:
    """True when Vault's answer says another node should be asked (the request was not applied)."""
    if status not in (429, 500, 502, 503):
        return False
    if status == 503:
        return True  # sealed, or standby with no active node: Vault refused before acting
    text = body.lower()
    return any(phrase in text for phrase in _NOT_ACTIVE_PHRASES)


class VaultAddressPool:
    """The cluster's addresses and the one believed active; thread-safe, shared by every client.

    `failover_seconds` bounds how long one request keeps cycling through the nodes while none is
    active (a Raft election takes ~4 s with performance_multiplier = 1).
    """

    def __init__(self, addresses: Sequence[str], *, failover_seconds: float = 10.0, pause_seconds: float = 0.2):
        if not addresses:
            raise ValueError("a Vault address pool needs at least one address")
        self.addresses: tuple[str, ...] = tuple(a.rstrip("/") for a in addresses)
        self.failover_seconds = failover_seconds
        self.pause_seconds = pause_seconds
        self._active = self.addresses[0]
        self._lock = threading.Lock()
        self.failovers = 0  # how many times the active address changed

    @property
    def active(self) -> str:
        return self._active

    @property
    def base(self) -> str:
        """The address hvac is built on; every URL starting with a pool address is re-based."""
        return self.addresses[0]

    def candidates(self) -> list[str]:
        """The active address first, then the others in their configured order."""
        active = self._active
        return [active, *(a for a in self.addresses if a != active)]

    def attempts(self, *, clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
        """Addresses to try for one request: rounds over `candidates()`, pausing between rounds,
        until `failover_seconds` have passed. With one address: that address, once."""
        if len(self.addresses) == 1:
            yield self.addresses[0]
            return
        deadline = clock() + self.failover_seconds
        while True:
            yield from self.candidates()
            if clock() >= deadline:
                return
            time.sleep(self.pause_seconds)

    def mark_active(self, addr: str) -> None:
        with self._lock:
            if addr != self._active and addr in self.addresses:
                self._active = addr
                self.failovers += 1

    def mark_failed(self, addr: str) -> None:
        """Move on from `addr` if it is the active one: the next address becomes active."""
        with self._lock:
            if addr == self._active and len(self.addresses) > 1:
                index = self.addresses.index(addr)
                self._active = self.addresses[(index + 1) % len(self.addresses)]
                self.failovers += 1

    def locate_active(self, probe: Callable[[str], int | None]) -> str | None:
        """Ask each node's health (probe returns the status code, None when unreachable) and make
        the active one current. Returns it, or None when no node is active right now."""
        for addr in self.candidates():
            if probe(addr) in ACTIVE_HEALTH_CODES:
                self.mark_active(addr)
                return addr
        return None

    def split(self, url: str) -> tuple[str, str] | None:
        """`(address, rest)` when `url` starts with one of the pool's addresses, else None."""
        for addr in self.addresses:
            if url == addr or url.startswith(addr + "/"):
                return addr, url[len(addr) :]
        return None


class FailoverSession(requests.Session):
    """A pooled `requests.Session` that sends each request to the pool's active node (see module doc)."""

    def __init__(self, pool: VaultAddressPool, *, pool_maxsize: int, probe_timeout: float = 1.0) -> None:
        super().__init__()
        self.pool = pool
        self._probe_timeout = probe_timeout
        pooled = HTTPAdapter(pool_connections=max(1, len(pool.addresses)), pool_maxsize=pool_maxsize)
        self.mount("http://", pooled)
        self.mount("https://", pooled)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        method = method if isinstance(method, str) else method.decode()
        url = url if isinstance(url, str) else url.decode()
        split = self.pool.split(url)
        if split is None or len(self.pool.addresses) == 1:
            return super().request(method, url, *args, **kwargs)
        _, rest = split
        last_error: Exception | None = None
        last_response: requests.Response | None = None
        for addr in self.pool.attempts():
            try:
                response = super().request(method, addr + rest, *args, **kwargs)
            except requests.ConnectionError as exc:
                if _request_may_have_been_sent(exc):
                    raise
                last_error, last_response = exc, None
                self._fail_over(addr)
                continue
            if is_failover_answer(response.status_code, response.text):
                last_error, last_response = None, response
                self._fail_over(addr)
                continue
            self.pool.mark_active(addr)
            return response
        if last_response is not None:
            return last_response
        assert last_error is not None
        raise last_error

    def _fail_over(self, addr: str) -> None:
        self.pool.mark_failed(addr)
        self.pool.locate_active(self._probe)

    def _probe(self, addr: str) -> int | None:
        try:
            answer = super().request("GET", f"{addr}/v1/sys/health", timeout=self._probe_timeout)
        except requests.RequestException:
            return None
        return answer.status_code


def _request_may_have_been_sent(exc: requests.ConnectionError) -> bool:
    """A connect failure proves nothing was sent; a reset or a read error after sending does not."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    text = repr(exc).lower()
    refused = ("connection refused", "newconnectionerror", "failed to establish", "name or service not known")
    return not any(marker in text for marker in refused)


_shared: dict[tuple[str, ...], VaultAddressPool] = {}
_shared_lock = threading.Lock()


def shared_pool(addresses: Sequence[str]) -> VaultAddressPool:
    """One pool per address list per process, so every client (service, per-user sessions, jobs)
    learns of a failover at once."""
    key = tuple(a.rstrip("/") for a in addresses)
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None:
            pool = _shared[key] = VaultAddressPool(key)
        return pool
