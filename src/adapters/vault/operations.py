"""Operator calls to Vault/OpenBao over its HTTP API: init, unseal, status, Raft snapshots, inventory.

Synchronous (httpx) on purpose: these run from the CLI, one at a time. Vendor errors become
`OperationsError` (one line for the operator) or the domain's `VaultUnavailable`; no httpx
exception leaves this module. Share and token values are never put in an error message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from domain.backups import Inventory, SecretVersions
from domain.errors import VaultUnavailable
from domain.values import SecretValue

Progress = Callable[[int], None]  # bytes so far


class OperationsError(RuntimeError):
    """Vault answered, and the answer means the operation can't go on (the message says why)."""


@dataclass(frozen=True)
class InitResult:
    shares: tuple[str, ...]  # unseal shares; with an auto-unseal seal, recovery shares
    root_token: str
    threshold: int
    recovery: bool = False  # auto-unseal (transit, KMS): the shares only authorise operator tasks


@dataclass(frozen=True)
class SealStatus:
    initialized: bool
    sealed: bool
    threshold: int
    shares: int
    progress: int
    version: str
    cluster_name: str | None = None
    seal_type: str = "shamir"
    recovery_seal: bool = False


@dataclass(frozen=True)
class NodeStatus:
    addr: str
    reachable: bool
    seal: SealStatus | None = None
    active: bool = False  # from sys/health: 200 active, 429 standby
    leader_addr: str | None = None
    peers: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


class VaultOperations:
    """One node's operator API. `token` is needed for snapshots, inventory and Raft configuration."""

    def __init__(self, addr: str, *, token: str | None = None, timeout: float = 10.0, verify: bool = True) -> None:
        self.addr = addr.rstrip("/")
        self._token = token
        self._http = httpx.Client(base_url=self.addr, timeout=timeout, verify=verify, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VaultOperations:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def with_token(self, token: str) -> VaultOperations:
        return VaultOperations(self.addr, token=token, timeout=self._http.timeout.read or 10.0)

    # -- plumbing -----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"X-Vault-Token": self._token} if self._token else {}

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, headers=self._headers(), **kwargs)
        except httpx.TransportError as exc:
            raise VaultUnavailable(f"Vault at {self.addr} did not answer ({type(exc).__name__})") from None

    def _json(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, path, **kwargs)
        if response.status_code not in ok:
            raise OperationsError(f"{method} {path} at {self.addr}: {response.status_code} {_errors(response)}")
        return response.json() if response.content else {}

    # -- init, unseal, status -----------------------------------------------------------------

    def seal_status(self) -> SealStatus:
        body = self._json("GET", "/v1/sys/seal-status")
        return SealStatus(
            initialized=bool(body.get("initialized")),
            sealed=bool(body.get("sealed")),
            threshold=int(body.get("t") or 0),
            shares=int(body.get("n") or 0),
            progress=int(body.get("progress") or 0),
            version=str(body.get("version") or ""),
            cluster_name=body.get("cluster_name"),
            seal_type=str(body.get("type") or "shamir"),
            recovery_seal=bool(body.get("recovery_seal")),
        )

    def health_code(self) -> int | None:
        """sys/health's status: 200 active, 429 standby, 501 not initialised, 503 sealed; None unreachable."""
        try:
            return self._http.get("/v1/sys/health", timeout=2.0).status_code
        except httpx.TransportError:
            return None

    def init(self, *, shares: int, threshold: int) -> InitResult:
        """Shamir: `shares` unseal shares. With an auto-unseal seal (transit, KMS) the same numbers
        become recovery shares, and the node unseals itself."""
        recovery = self.seal_status().recovery_seal
        request = (
            {"recovery_shares": shares, "recovery_threshold": threshold}
            if recovery
            else {"secret_shares": shares, "secret_threshold": threshold}
        )
        body = self._json("PUT", "/v1/sys/init", json=request, timeout=60.0)
        keys = body.get("recovery_keys") if recovery else body.get("keys")
        return InitResult(
            shares=tuple(keys or ()), root_token=body["root_token"], threshold=threshold, recovery=recovery
        )

    def unseal(self, share: str) -> SealStatus:
        response = self._request("PUT", "/v1/sys/unseal", json={"key": share})
        if response.status_code != 200:
            # The share is not echoed: a typo'd share is still most of a share.
            raise OperationsError(f"Vault at {self.addr} refused the unseal share: {_errors(response)}")
        body = response.json()
        return SealStatus(
            initialized=True,
            sealed=bool(body.get("sealed")),
            threshold=int(body.get("t") or 0),
            shares=int(body.get("n") or 0),
            progress=int(body.get("progress") or 0),
            version=str(body.get("version") or ""),
        )

    def unseal_with(self, shares: list[str], *, wait_seconds: float = 30.0) -> SealStatus:
        """Submit shares until unsealed. A node that is still joining its cluster answers 400 or
        stays sealed for a while: the shares are submitted again until `wait_seconds` pass."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                status = self.seal_status()
                if status.initialized and not status.sealed:
                    return status
                for share in shares:
                    status = self.unseal(share)
                    if not status.sealed:
                        return status
            except (OperationsError, VaultUnavailable):
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise OperationsError(f"Vault at {self.addr} is still sealed after {len(shares)} shares")
            time.sleep(0.5)

    def wait_active(self, *, wait_seconds: float = 30.0) -> None:
        deadline = time.monotonic() + wait_seconds
        while self.health_code() != 200:
            if time.monotonic() > deadline:
                raise OperationsError(f"Vault at {self.addr} has no active node after {wait_seconds:.0f}s")
            time.sleep(0.2)

    def wait_sealed(self, *, wait_seconds: float = 60.0) -> None:
        """After a snapshot-force OpenBao seals itself (its data is under the old root key)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                if self._http.get("/v1/sys/seal-status", timeout=2.0).json().get("sealed"):
                    return
            except (httpx.TransportError, ValueError):
                pass  # while it seals, seal-status may not answer for a few seconds
            if time.monotonic() > deadline:
                raise OperationsError(f"Vault at {self.addr} did not seal after the restore")
            time.sleep(0.3)

    def status(self) -> NodeStatus:
        try:
            seal = self.seal_status()
        except VaultUnavailable:
            return NodeStatus(addr=self.addr, reachable=False)
        code = self.health_code()
        leader, peers = None, ()
        if seal.initialized and not seal.sealed:
            leader_body = self._json("GET", "/v1/sys/leader", ok=(200,))
            leader = leader_body.get("leader_address") or None
            if self._token:
                config = self._request("GET", "/v1/sys/storage/raft/configuration")
                if config.status_code == 200:
                    peers = tuple(config.json().get("data", {}).get("config", {}).get("servers", []))
        return NodeStatus(
            addr=self.addr, reachable=True, seal=seal, active=code == 200, leader_addr=leader, peers=peers
        )

    def token_policies(self) -> tuple[str, ...]:
        body = self._json("GET", "/v1/auth/token/lookup-self")
        return tuple(body.get("data", {}).get("policies") or ())

    def approle_login(self, role_id: str, secret_id: str, *, mount: str = "approle") -> str:
        body = self._json("POST", f"/v1/auth/{mount}/login", json={"role_id": role_id, "secret_id": secret_id})
        return body["auth"]["client_token"]

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot_to(self, out: BinaryIO, progress: Progress | None = None) -> int:
        """Stream a Raft snapshot into `out`; returns its size in bytes."""
        written = 0
        try:
            with self._http.stream(
                "GET", "/v1/sys/storage/raft/snapshot", headers=self._headers(), timeout=300.0
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise OperationsError(f"Vault refused the snapshot: {response.status_code} {_errors(response)}")
                for chunk in response.iter_bytes(64 * 1024):
                    out.write(chunk)
                    written += len(chunk)
                    if progress:
                        progress(written)
        except httpx.TransportError as exc:
            raise VaultUnavailable(f"the snapshot from {self.addr} broke off ({type(exc).__name__})") from None
        return written

    def restore_snapshot(self, snapshot: Path) -> None:
        """`snapshot-force`: replace this cluster's whole store (a fresh cluster has other keys)."""
        response = self._request(
            "POST", "/v1/sys/storage/raft/snapshot-force", content=snapshot.read_bytes(), timeout=300.0
        )
        if response.status_code not in (200, 204):
            raise OperationsError(f"Vault refused the snapshot: {response.status_code} {_errors(response)}")

    def rotate_encryption_key(self) -> int:
        self._json("PUT", "/v1/sys/rotate", ok=(200, 204))
        return int(self._json("GET", "/v1/sys/key-status").get("term") or 0)

    # -- inventory (metadata only, never values) ----------------------------------------------

    def _list(self, path: str) -> list[str]:
        response = self._request("LIST", path)
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise OperationsError(f"LIST {path}: {response.status_code} {_errors(response)}")
        return list(response.json().get("data", {}).get("keys") or [])

    def walk(self, mount: str, prefix: str = "users/") -> Iterator[str]:
        """Every secret path under `prefix` (folders end in '/', so they are walked)."""
        for name in self._list(f"/v1/{mount}/metadata/{prefix}"):
            if name.endswith("/"):
                yield from self.walk(mount, prefix + name)
            else:
                yield prefix + name

    def metadata(self, mount: str, path: str) -> dict[str, Any] | None:
        response = self._request("GET", f"/v1/{mount}/metadata/{path}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise OperationsError(f"metadata of {path}: {response.status_code} {_errors(response)}")
        return response.json()["data"]

    def inventory(self, mount: str) -> Inventory:
        """How many secrets and versions each user has: what a manifest records and a verify checks."""
        per_user: dict[str, int] = {}
        versions = 0
        for path in self.walk(mount):
            user = path.split("/", 2)[1]
            meta = self.metadata(mount, path) or {}
            per_user[user] = per_user.get(user, 0) + 1
            versions += len(meta.get("versions") or {})
        return Inventory(secrets=sum(per_user.values()), versions=versions, per_user=per_user)

    def read_versions(self, mount: str, path: str) -> SecretVersions:
        """Every readable version of one secret, oldest first (values: for restore-secret only)."""
        meta = self.metadata(mount, path)
        if meta is None:
            raise OperationsError(f"no secret at {path} in the snapshot")
        values: list[tuple[int, dict[str, SecretValue]]] = []
        for number, info in sorted(meta.get("versions", {}).items(), key=lambda item: int(item[0])):
            if info.get("destroyed") or info.get("deletion_time"):
                continue
            body = self._json("GET", f"/v1/{mount}/data/{path}", params={"version": number})
            data = body["data"]["data"] or {}
            values.append((int(number), {field: SecretValue(str(value)) for field, value in data.items()}))
        return SecretVersions(
            path=path, versions=tuple(values), custom_metadata=dict(meta.get("custom_metadata") or {})
        )


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return response.text[:200]
    return "; ".join(str(e) for e in errors)[:300]
