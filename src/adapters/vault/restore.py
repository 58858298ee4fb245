"""Snapshots out of and into OpenBao: the backup source, a cluster restore, a scratch restore.

A restore follows what was measured (docs/ops/backup-and-restore.md): a fresh cluster is
initialised with the snapshot's seal configuration (shares and threshold are not in the
snapshot), unsealed with its own throwaway shares, the snapshot forced in; the node then seals
itself, and is unsealed with the original shares. The throwaway shares and root token of the
fresh init are used for the force only and never printed or stored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from adapters.vault.operations import OperationsError, VaultOperations
from adapters.vault.raft_server import BaoServer
from domain.backups import BackupCorrupt, BackupError, Inventory, Manifest, Progress, SecretVersions

# Login into a Vault that holds the snapshot: returns a token from the snapshot's identities.
Login = Callable[[VaultOperations], str]


class VaultSnapshotSource:
    """`SnapshotSource` on the live cluster with the backup identity, which must not be root."""

    def __init__(self, ops: VaultOperations, mount: str) -> None:
        self._ops = ops
        self._mount = mount

    def ensure_not_root(self) -> None:
        if "root" in self._ops.token_policies():
            raise BackupError("backups run with the backup policy's identity, never a root token")

    def version(self) -> str:
        return self._ops.seal_status().version

    def seal_configuration(self) -> tuple[int, int]:
        status = self._ops.seal_status()
        return status.shares, status.threshold

    def snapshot_to(self, out: BinaryIO, progress: Progress | None = None) -> int:
        return self._ops.snapshot_to(out, progress)

    def inventory(self) -> Inventory:
        return self._ops.inventory(self._mount)


class ClusterRestorer:
    """`SnapshotRestorer` for the cluster at `addr` (a fresh one; or an initialised one with `token`)."""

    def __init__(self, addr: str, *, token: str | None = None, report: Callable[[str], None] = lambda line: None):
        self._addr = addr
        self._token = token
        self._report = report

    def restore(self, snapshot: Path, manifest: Manifest, original_shares: Sequence[str]) -> str:
        if len(original_shares) < manifest.key_threshold:
            raise BackupError(
                f"the backup needs {manifest.key_threshold} of the original {manifest.key_shares} unseal shares, "
                f"{len(original_shares)} given"
            )
        with VaultOperations(self._addr) as ops:
            status = ops.seal_status()
            token = self._token
            if not status.initialized:
                fresh = ops.init(shares=manifest.key_shares, threshold=manifest.key_threshold)
                ops.unseal_with(list(fresh.shares[: fresh.threshold]))
                ops.wait_active()
                token = fresh.root_token
                self._report(
                    f"initialised {self._addr} ({manifest.key_shares} shares, threshold {manifest.key_threshold})"
                )
            elif status.sealed:
                raise BackupError(
                    f"{self._addr} is initialised and sealed: unseal it first, or restore into a fresh one"
                )
            elif (status.shares, status.threshold) != (manifest.key_shares, manifest.key_threshold):
                raise BackupError(
                    f"{self._addr} has {status.shares} shares (threshold {status.threshold}); the backup was taken with "
                    f"{manifest.key_shares} (threshold {manifest.key_threshold}): restore into a fresh cluster"
                )
            if token is None:
                raise BackupError(
                    "the cluster is initialised: a token allowed sys/storage/raft/snapshot-force is needed"
                )
            with ops.with_token(token) as authorised:
                try:
                    authorised.restore_snapshot(snapshot)
                except OperationsError as exc:
                    raise BackupCorrupt(f"Vault rejected the snapshot: {exc}") from None
            self._report("snapshot forced in; waiting for the node to seal under the original keys")
            ops.wait_sealed()
            ops.unseal_with(list(original_shares))
            ops.wait_active()
            self._report("unsealed with the original shares")
        return (
            f"restored {manifest.inventory.secrets} secrets ({manifest.inventory.versions} versions) into {self._addr}"
        )


class RestoredVault:
    def __init__(self, ops: VaultOperations, mount: str) -> None:
        self._ops = ops
        self._mount = mount

    def inventory(self) -> Inventory:
        return self._ops.inventory(self._mount)

    def read_versions(self, path: str) -> SecretVersions:
        return self._ops.read_versions(self._mount, path)


def scratch_factory(login: Login, *, workdir: Path | None = None):
    """A `ScratchFactory`: each use starts a throwaway single-node OpenBao on loopback, restores
    the snapshot into it, logs in with `login`, and stops and wipes it afterwards."""

    @contextmanager
    def scratch(snapshot: Path, manifest: Manifest, original_shares: Sequence[str]) -> Iterator[RestoredVault]:
        with tempfile.TemporaryDirectory(prefix="mirage-scratch-", dir=workdir) as directory:
            server = BaoServer(Path(directory), node_id="scratch").start()
            try:
                ClusterRestorer(server.addr).restore(snapshot, manifest, original_shares)
                with VaultOperations(server.addr) as anonymous:
                    token = login(anonymous)
                with VaultOperations(server.addr, token=token) as ops:
                    yield RestoredVault(ops, manifest.mount)
            finally:
                server.stop()

    return scratch
