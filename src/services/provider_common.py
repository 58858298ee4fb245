"""What the provider credential services share: token checks, audit notes, per-version token kinds.

Auditing: each public operation of a provider service records exactly one user-level event on the
`AuditTrail` (store → create/update, rotate, validate, test_login, export, delete, status →
metadata_read, ...). The `SecretService` underneath must be an UNAUDITED one
(`AuditedSecretService.unaudited()`), or every operation would be on record twice. A provider that
answers "no" to a validation or a login test is recorded with outcome `invalid`; no event ever
carries a token, a password or a value.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Protocol

from domain.audit import AuditAction
from domain.errors import InvalidInput
from domain.secrets import VERSIONS_KEPT, SecretMetadata, SecretType
from domain.values import SecretValue
from services.audit_trail import AuditNote

RAILWAY_KEY = "railway"
GITHUB_KEY = "github"
MAX_TOKEN_BYTES = 4096
# The per-version kind map keeps as many entries as Vault keeps versions.
_KIND_HISTORY = VERSIONS_KEPT


def validate_token(token: SecretValue, field: str) -> None:
    plain = token.reveal()
    if not plain.strip():
        raise InvalidInput("the token must not be empty", field=field)
    # Tokens travel in HTTP headers, which are ASCII: printable ASCII only (0x21-0x7e), checked
    # before any call, so a non-ASCII token is the caller's 422 and never an encoding error.
    if token.byte_length() > MAX_TOKEN_BYTES or not all(33 <= ord(c) <= 126 for c in plain):
        raise InvalidInput(
            f"a token is at most {MAX_TOKEN_BYTES} bytes of printable ASCII, without spaces", field=field
        )


class WrittenVersion(Protocol):
    """A version a write produced (`StoredVersion`, `RailwayStored`, ...)."""

    @property
    def version(self) -> int: ...
    @property
    def previous_version(self) -> int: ...


def written(note: AuditNote, stored: WrittenVersion, secret_type: SecretType) -> None:
    note.version, note.secret_type = stored.version, secret_type.value
    note.action = AuditAction.CREATE if stored.previous_version == 0 else AuditAction.UPDATE


def token_kinds(metadata: SecretMetadata) -> dict[str, str]:
    """The Railway token kind of each version, from the secret's metadata ({"3": "project"})."""
    try:
        decoded = json.loads(metadata.extra.get("token_kinds", "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in decoded.items()} if isinstance(decoded, dict) else {}


def with_token_kind(metadata: SecretMetadata, version: int, kind: str) -> SecretMetadata:
    kinds = token_kinds(metadata)
    kinds[str(version)] = kind
    newest = sorted(kinds, key=int)[-_KIND_HISTORY:]
    encoded = json.dumps({k: kinds[k] for k in newest}, separators=(",", ":"))
    return replace(metadata, extra={**metadata.extra, "token_kind": kind, "token_kinds": encoded})


def join_reasons(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return "; ".join(kept) if kept else None
