"""The envelope Redis holds: AES-256-GCM over a msgspec JSON body, keyed by an HMAC of the path.

- Entry format: b"\\x01" (format version) + 12-byte random nonce + AES-GCM ciphertext-and-tag.
- Associated data: a format label + the Vault path, so a ciphertext copied under another key
  (another user's path) fails authentication and reads as a miss.
- Redis keys: HMAC-SHA256(path) under a key derived from the data key with HKDF, so neither user
  ids nor secret keys appear in Redis in clear, and the names can't be recomputed without the key.

Secret values are revealed only inside `_encode`, straight into the bytes that get encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import datetime

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.ports import CachedSecret
from domain.secrets import VaultEntry
from domain.values import SecretValue

KEY_BYTES = 32
NONCE_BYTES = 12
_FORMAT_V1 = b"\x01"
_AAD_LABEL = b"mirage-secrets/cache/v1\x00"
_KEY_HASH_INFO = b"mirage-secrets/cache/key-hash/v1"


class CacheEntryInvalid(Exception):
    """An entry that can't be authenticated or decoded (wrong key, wrong path, corrupt, old format)."""


class _Wire(msgspec.Struct, forbid_unknown_fields=True):
    data: dict[str, str]
    version: int
    created_at: datetime
    custom: dict[str, str]
    current_version: int
    updated_at: datetime
    cached_at: float


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Wire)


def _encode(secret: CachedSecret) -> bytes:
    entry = secret.entry
    return _encoder.encode(
        _Wire(
            data={name: value.reveal() for name, value in entry.data.items()},
            version=entry.version,
            created_at=entry.created_at,
            custom=dict(secret.custom),
            current_version=secret.current_version,
            updated_at=secret.updated_at,
            cached_at=secret.cached_at,
        )
    )


def _decode(raw: bytes) -> CachedSecret:
    try:
        wire = _decoder.decode(raw)
    except msgspec.DecodeError:
        raise CacheEntryInvalid("the cache entry body does not decode") from None
    return CachedSecret(
        entry=VaultEntry(
            data={name: SecretValue(value) for name, value in wire.data.items()},
            version=wire.version,
            created_at=wire.created_at,
        ),
        custom=wire.custom,
        current_version=wire.current_version,
        updated_at=wire.updated_at,
        cached_at=wire.cached_at,
    )


class CacheCipher:
    """Seals and opens cache entries and names them, all under one 32-byte data key."""

    __slots__ = ("_aead", "_hash_key")

    def __init__(self, data_key: bytes) -> None:
        if not isinstance(data_key, bytes | bytearray) or len(data_key) != KEY_BYTES:
            raise ValueError(f"the cache data key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(bytes(data_key))
        self._hash_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_HASH_INFO).derive(
            bytes(data_key)
        )

    def __repr__(self) -> str:
        return "CacheCipher(<key hidden>)"

    def key_id(self, path: str) -> str:
        """The keyed hash naming `path` in Redis and on the invalidation channel (64 hex chars)."""
        return hmac.new(self._hash_key, path.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _aad(path: str) -> bytes:
        return _AAD_LABEL + path.encode()

    def seal(self, path: str, secret: CachedSecret) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return _FORMAT_V1 + nonce + self._aead.encrypt(nonce, _encode(secret), self._aad(path))

    def open(self, path: str, blob: bytes) -> CachedSecret:
        """Decrypt an entry sealed for `path`; raises `CacheEntryInvalid` on anything else."""
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != _FORMAT_V1:
            raise CacheEntryInvalid("the cache entry has an unknown format")
        nonce = blob[1 : 1 + NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, blob[1 + NONCE_BYTES :], self._aad(path))
        except InvalidTag:
            raise CacheEntryInvalid("the cache entry does not authenticate for this path") from None
        return _decode(plain)
