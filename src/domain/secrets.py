"""Secrets: where each kind lives in Vault, its metadata, and the rules for keys, tags and values."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.credentials import validate_environment_id
from domain.errors import InvalidInput, ReservedKey, SecretNotFound, ValueTooLarge, VersionGone, VersionNotFound
from domain.values import SecretValue, is_valid_secret_key, is_valid_user_id

# Vault's own entry limit is 1 MiB; secrets are tokens, passwords and certificates, so a much
# smaller bound keeps cache entries and responses small and catches pasted files by mistake.
MAX_VALUE_BYTES = 64 * 1024
# How many versions of a secret Vault keeps (the KV mount's max_versions, set by `vault bootstrap`).
VERSIONS_KEPT = 10
MAX_TAGS = 12
MAX_DESCRIPTION_BYTES = 400  # Vault custom_metadata values are capped at 512 bytes.
# Filters and search text only ever match stored keys, tags and types: nothing longer is useful.
MAX_FILTER_LENGTH = 128
# Vault numbers versions with Go integers; anything past a 32-bit count is no real version and
# must be refused here, before Vault answers it with an error that reads like a permission problem.
MAX_VERSION = 2**31 - 1
MAX_KEPT_VERSIONS = 10  # the mount's max_versions (adapters.vault.bootstrap)

# Words the API uses for its own routes or for provider credentials: a custom secret can't take them.
RESERVED_KEYS = frozenset(
    {
        "railway",
        "github",
        "docker",
        "health",
        "audit",
        "admin",
        "custom",
        "users",
        "env_vars",
        "environments",
        "metadata",
        "versions",
        "rollback",
        "bulk",
        "status",
        "validate",
        "rotate",
        "export",
        "import",
        "sync",
        "test",
        "schema",
        "expiring",
    }
)

DOCKER_KEY_PREFIX = "docker/"
# A normalised registry host[:port] (see `domain.providers.normalize_registry`): one path segment.
_REGISTRY_SEGMENT = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$")


def is_valid_registry_segment(registry: str) -> bool:
    return bool(_REGISTRY_SEGMENT.fullmatch(registry)) and ".." not in registry


def docker_key(registry: str) -> str:
    """The API key of a registry's credentials; `registry` is already normalised."""
    return DOCKER_KEY_PREFIX + registry


_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$")
_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class SecretType(StrEnum):
    CUSTOM = "custom"
    RAILWAY_TOKEN = "railway_token"
    GITHUB_PAT = "github_pat"
    DOCKER_CREDENTIALS = "docker_credentials"


PROVIDER_TYPES = frozenset({SecretType.RAILWAY_TOKEN, SecretType.GITHUB_PAT, SecretType.DOCKER_CREDENTIALS})


@dataclass(frozen=True, slots=True)
class SecretLocator:
    """One secret of one user: its API key, where it lives under the mount, and its value field."""

    user_id: str
    key: str
    path: str
    value_field: str
    default_type: SecretType

    @property
    def is_custom(self) -> bool:
        return self.default_type is SecretType.CUSTOM


def user_root(user_id: str) -> str:
    """`users/{id}`: the one place a user's Vault paths start from (ARCHITECTURE.md, "Vault path
    contract"); a user id that could change the path's shape is refused."""
    if not is_valid_user_id(user_id):
        raise InvalidInput("the user id is not a valid identifier", field="sub")
    return f"users/{user_id}"


def environment_path(user_id: str, env_id: str) -> str:
    """`users/{id}/env_vars/{env_id}`: one Vault entry holds all of an environment's variables."""
    return f"{user_root(user_id)}/env_vars/{validate_environment_id(env_id)}"


def locate(user_id: str, key: str) -> SecretLocator:
    """Map an API key to its Vault path (ARCHITECTURE.md, "Vault path contract")."""
    root = user_root(user_id)
    if key == "railway":
        return SecretLocator(user_id, key, f"{root}/railway", "token", SecretType.RAILWAY_TOKEN)
    if key == "github":
        return SecretLocator(user_id, key, f"{root}/github", "token", SecretType.GITHUB_PAT)
    if key.startswith(DOCKER_KEY_PREFIX):
        registry = key[len(DOCKER_KEY_PREFIX) :]
        if not is_valid_registry_segment(registry):
            raise InvalidInput("registry must be a host name, optionally with a port", field="registry")
        return SecretLocator(user_id, key, f"{root}/docker/{registry}", "password", SecretType.DOCKER_CREDENTIALS)
    validate_custom_key(key)
    return SecretLocator(user_id, key, f"{root}/custom/{key}", "value", SecretType.CUSTOM)


def validate_custom_key(key: str) -> None:
    if not is_valid_secret_key(key):
        raise InvalidInput(
            "a key is 1-128 characters of letters, digits, '_', '.' and '-', starting with a letter or digit",
            field="key",
        )
    if key.lower() in RESERVED_KEYS:
        raise ReservedKey(f"'{key}' is reserved; choose another key", field="key")


def validate_value(value: SecretValue) -> None:
    if value.byte_length() == 0:
        raise InvalidInput("the value must not be empty", field="value")
    if value.byte_length() > MAX_VALUE_BYTES:
        raise ValueTooLarge(f"a secret value may be at most {MAX_VALUE_BYTES} bytes")


def validate_tags(tags: Sequence[str]) -> tuple[str, ...]:
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags", field="tags")
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise InvalidInput("a tag is 1-32 characters of letters, digits, '_', '.', ':' and '-'", field="tags")
    return tuple(dict.fromkeys(tags))  # de-duplicated, order kept


def validate_custom_type(secret_type: str) -> str:
    if not _TYPE.fullmatch(secret_type):
        raise InvalidInput("a type is lower-case letters, digits and '_', starting with a letter", field="type")
    if secret_type in PROVIDER_TYPES:
        raise InvalidInput(f"'{secret_type}' is set by the provider endpoints, not on custom secrets", field="type")
    return secret_type


# C0 and C1 controls, DEL, and the bidirectional overrides/isolates that make text display in
# another order than it is stored (CVE-2021-42574, "Trojan Source"): never in text a person reads.
_UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def has_unsafe_text(text: str) -> bool:
    """True when `text` holds a control character or a bidi override (see `_UNSAFE_TEXT`)."""
    return _UNSAFE_TEXT.search(text) is not None


def validate_description(description: str) -> str:
    if len(description.encode()) > MAX_DESCRIPTION_BYTES or has_unsafe_text(description):
        raise InvalidInput(
            f"a description is at most {MAX_DESCRIPTION_BYTES} bytes of printable text "
            "(no control characters or bidi overrides)",
            field="description",
        )
    return description


def validate_filter(text: str | None, *, field: str) -> str | None:
    """A list filter or search text: bounded, printable (a NUL would reach the database's parser)."""
    if text is None:
        return None
    if len(text) > MAX_FILTER_LENGTH or has_unsafe_text(text):
        raise InvalidInput(f"{field} is at most {MAX_FILTER_LENGTH} printable characters", field=field)
    return text


def validate_version(version: int, *, field: str = "version") -> int:
    if isinstance(version, bool) or not 1 <= version <= MAX_VERSION:
        raise InvalidInput(f"a version is between 1 and {MAX_VERSION}", field=field)
    return version


@dataclass(frozen=True, slots=True)
class SecretMetadata:
    """The `custom_metadata` Vault keeps on every secret (spec: "Secret Metadata Tracking")."""

    created_by: str
    created_at: datetime
    secret_type: str
    tags: tuple[str, ...] = ()
    description: str | None = None
    last_validated: datetime | None = None
    # Provider-specific fields (token kind, scopes, expiry, ...), kept as Vault holds them.
    extra: Mapping[str, str] = field(default_factory=dict)
    # The secret's own expiry (from a TTL) and rotation period; see `domain.lifecycle`.
    expires_at: datetime | None = None
    rotate_every_days: int | None = None

    @property
    def provider_expires_at(self) -> datetime | None:
        """When the provider said the credential expires (GitHub's token expiration header)."""
        return parse_time(self.extra.get("expires_at"))

    def to_vault(self) -> dict[str, str]:
        # Vault metadata values are strings: lists are JSON arrays, times ISO 8601, absent is omitted.
        encoded = {
            **self.extra,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "secret_type": self.secret_type,
            "tags": json.dumps(list(self.tags), separators=(",", ":")),
        }
        if self.description is not None:
            encoded["description"] = self.description
        if self.last_validated is not None:
            encoded["last_validated"] = self.last_validated.isoformat()
        # `ttl_expires_at`, not `expires_at`: that name already holds a provider's token expiry.
        if self.expires_at is not None:
            encoded["ttl_expires_at"] = self.expires_at.isoformat()
        if self.rotate_every_days is not None:
            encoded["rotate_every_days"] = str(self.rotate_every_days)
        return encoded

    @classmethod
    def from_vault(cls, raw: Mapping[str, str], *, fallback: SecretMetadata) -> SecretMetadata:
        """Decode tolerantly: metadata written by hand or by older versions may lack fields."""
        return cls(
            created_by=raw.get("created_by") or fallback.created_by,
            created_at=parse_time(raw.get("created_at")) or fallback.created_at,
            secret_type=raw.get("secret_type") or fallback.secret_type,
            tags=_decode_tags(raw.get("tags"), fallback=fallback.tags),
            description=raw.get("description", fallback.description),
            last_validated=parse_time(raw.get("last_validated")) or fallback.last_validated,
            extra={k: v for k, v in raw.items() if k not in _KNOWN_METADATA} or dict(fallback.extra),
            # No fallback: an absent expiry is "none", so that clearing one sticks.
            expires_at=parse_time(raw.get("ttl_expires_at")),
            rotate_every_days=_positive_int(raw.get("rotate_every_days")),
        )


_KNOWN_METADATA = frozenset(
    {
        "created_by",
        "created_at",
        "secret_type",
        "tags",
        "description",
        "last_validated",
        "ttl_expires_at",
        "rotate_every_days",
    }
)


def _positive_int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and int(raw) > 0 else None


def _decode_tags(raw: str | None, *, fallback: tuple[str, ...]) -> tuple[str, ...]:
    """A JSON array as written by `to_vault`; a comma list as a person would type it by hand."""
    if not raw:
        return fallback
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if isinstance(decoded, list):
        return tuple(str(tag) for tag in decoded)
    if isinstance(decoded, str):
        return (decoded,)
    return tuple(tag.strip() for tag in raw.split(",") if tag.strip())


def parse_time(raw: str | None) -> datetime | None:
    """An ISO 8601 time from Vault metadata, or None when absent or unreadable (hand-written)."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    created_at: datetime
    deleted_at: datetime | None = None
    destroyed: bool = False

    @property
    def readable(self) -> bool:
        return self.deleted_at is None and not self.destroyed


@dataclass(frozen=True, slots=True)
class VaultEntry:
    """One version of one secret as Vault holds it.

    `custom` is the secret's custom metadata as the same answer carried it (KV v2 returns it with
    every data read), or None when the adapter did not get it: then it takes a metadata read.
    """

    data: Mapping[str, SecretValue]
    version: int
    created_at: datetime
    custom: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class VaultMetadata:
    current_version: int
    oldest_version: int
    created_at: datetime
    updated_at: datetime
    versions: tuple[VersionInfo, ...]
    custom: Mapping[str, str] = field(default_factory=dict)

    def version(self, number: int) -> VersionInfo | None:
        return next((v for v in self.versions if v.version == number), None)

    @property
    def current(self) -> VersionInfo | None:
        return self.version(self.current_version)

    @property
    def is_live(self) -> bool:
        """True when the newest version can be read (it was neither deleted nor destroyed)."""
        current = self.current
        return current is not None and current.readable


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """A row of the metadata index: what listing and filtering read, so they never walk Vault."""

    user_id: str
    key: str
    secret_type: str
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    current_version: int
    description: str | None = None
    deleted: bool = False
    last_accessed_at: datetime | None = None
    expires_at: datetime | None = None  # the secret's TTL expiry
    rotate_every_days: int | None = None
    # When the current value was written (a metadata change leaves it); None keeps the stored one.
    version_created_at: datetime | None = None
    provider_expires_at: datetime | None = None  # what the provider said (GitHub)
    deleted_at: datetime | None = None
    deleted_reason: str | None = None  # "expired" when the cleanup pass deleted it

    @property
    def version_count(self) -> int:
        """Versions Vault keeps of it (the mount keeps the last `MAX_KEPT_VERSIONS`)."""
        return min(self.current_version, MAX_KEPT_VERSIONS)


def missing_version_error(metadata: VaultMetadata | None, version: int) -> Exception:
    """What a read of `version` that found no value means, from the secret's metadata: no secret at
    all, a version that never existed (or was pruned), or one that was deleted."""
    if metadata is None:
        return SecretNotFound("no secret is stored under this key")
    if metadata.version(version) is None:
        return VersionNotFound(
            f"version {version} does not exist (kept: {metadata.oldest_version or 1}..{metadata.current_version})"
        )
    return VersionGone(f"version {version} was deleted; its value can no longer be read")
