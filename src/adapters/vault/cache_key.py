"""The cache data key: 32 random bytes every instance shares through Vault (never Redis or env).

Stored base64-encoded in the field `key` of a service-owned secret. The first instance to start
creates it with check-and-set 0; an instance that loses that race reads the winner's key, so all
instances end up encrypting and naming cache entries with the same key. The key is returned to
the caller and kept only in process memory.

Only the `SecretVault` port is used, so this runs against the in-memory fake as well.
"""

from __future__ import annotations

import base64
import binascii
import os

from domain.check_and_set import retry_on_conflict
from domain.errors import SecretNotFound, VersionConflict
from domain.ports import SecretVault
from domain.values import SecretValue

CACHE_KEY_PATH = "service/cache-key"
CACHE_KEY_BYTES = 32
_FIELD = "key"
_ATTEMPTS = 5


class CacheKeyInvalid(Exception):
    """What Vault holds under the cache key path is not a base64 32-byte key."""


async def load_or_create_cache_key(vault: SecretVault, path: str = CACHE_KEY_PATH) -> bytes:
    """Read the shared cache key, creating it if no instance has yet.

    Vault errors (`VaultUnavailable`, `VaultRefused`) propagate: the composition root decides
    whether to start without a shared cache. A malformed stored key raises `CacheKeyInvalid`
    rather than being replaced, since other instances may be using it.
    """

    async def read_or_create() -> bytes:
        try:
            entry = await vault.read(path)
        except SecretNotFound:
            pass
        else:
            return _decode(entry.data.get(_FIELD))
        # Nothing readable: create it. cas=0 when the path never existed; when its newest version
        # was deleted, check-and-set against that version so the deleted key is superseded once.
        metadata = await vault.read_metadata(path)
        if metadata is not None and metadata.is_live:
            # Another instance created it since our read: use theirs, never overwrite it.
            raise VersionConflict("the cache key was created meanwhile")
        cas = metadata.current_version if metadata is not None else 0
        fresh = os.urandom(CACHE_KEY_BYTES)
        # A conflict: another instance won; the retry reads its key.
        await vault.write(path, {_FIELD: SecretValue(base64.b64encode(fresh).decode())}, cas=cas)
        return fresh

    return await retry_on_conflict(
        read_or_create, attempts=_ATTEMPTS, exhausted="the cache key kept changing while it was being created"
    )


def _decode(value: SecretValue | None) -> bytes:
    if value is None:
        raise CacheKeyInvalid(f"the stored cache key has no '{_FIELD}' field")
    try:
        key = base64.b64decode(value.reveal(), validate=True)
    except (binascii.Error, ValueError):
        raise CacheKeyInvalid("the stored cache key is not base64") from None
    if len(key) != CACHE_KEY_BYTES:
        raise CacheKeyInvalid(f"the stored cache key is not {CACHE_KEY_BYTES} bytes")
    return key
