"""The audit chain's witness in Vault KV: each writer segment's newest (seq, hash), outside the
database, so that removing the newest audit events (which leaves a shorter chain that still
links) is caught by `audit verify`.

One service-owned secret, `service/audit-witness`, field `heads`: a JSON object
`{"<segment id>": [seq, "hash"], ...}`. Every writer process read-modify-writes it with
check-and-set, retrying when another process wrote in between, and never moves a segment's head
backwards. The newest `MAX_SEGMENTS` segments are kept (segments are per process start; the
oldest, long closed, drop out first). Only the `SecretVault` port is used.
"""

from __future__ import annotations

import msgspec

from domain.audit import ChainHead, WitnessUnavailable
from domain.errors import SecretNotFound, VaultRefused, VaultUnavailable, VersionConflict
from domain.ports import SecretVault
from domain.values import SecretValue

WITNESS_PATH = "service/audit-witness"
MAX_SEGMENTS = 2_000
_FIELD = "heads"
_ATTEMPTS = 8
_HEADS = msgspec.json.Decoder(dict[str, tuple[int, str]])


class VaultChainWitness:
    """`domain.ports.ChainWitness` on the service's own Vault identity."""

    def __init__(self, vault: SecretVault, path: str = WITNESS_PATH) -> None:
        self._vault = vault
        self._path = path

    async def _read(self) -> tuple[dict[int, ChainHead], int]:
        """The heads and the version they were read at (0: nothing written yet)."""
        try:
            entry = await self._vault.read(self._path)
        except SecretNotFound:
            metadata = await self._vault.read_metadata(self._path)
            return {}, metadata.current_version if metadata is not None else 0
        raw = entry.data.get(_FIELD)
        try:
            heads = _HEADS.decode(raw.reveal()) if raw is not None else {}
        except msgspec.DecodeError:
            raise WitnessUnavailable("the audit witness in Vault is not readable") from None
        return {int(segment): ChainHead(seq, digest) for segment, (seq, digest) in heads.items()}, entry.version

    async def latest(self) -> dict[int, ChainHead]:
        try:
            heads, _ = await self._read()
        except (VaultUnavailable, VaultRefused) as error:
            raise WitnessUnavailable(f"the audit witness can't be read: {type(error).__name__}") from error
        return heads

    async def publish(self, segment_id: int, head: ChainHead) -> None:
        try:
            for _ in range(_ATTEMPTS):
                heads, version = await self._read()
                known = heads.get(segment_id)
                if known is not None and known.seq >= head.seq:
                    return  # never backwards (a late publication from an older head)
                heads[segment_id] = head
                kept = sorted(heads)[-MAX_SEGMENTS:]
                payload = msgspec.json.encode({str(s): (heads[s].seq, heads[s].hash) for s in kept}).decode()
                try:
                    await self._vault.write(self._path, {_FIELD: SecretValue(payload)}, cas=version)
                except VersionConflict:
                    continue  # another writer published in between: merge again
                return
        except (VaultUnavailable, VaultRefused) as error:
            raise WitnessUnavailable(f"the audit witness can't be written: {type(error).__name__}") from error
        raise WitnessUnavailable("the audit witness kept changing while it was being written")
