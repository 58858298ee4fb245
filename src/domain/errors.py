"""Domain errors. Adapters translate vendor exceptions into these; entrypoints map them to HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the service layer raises. Messages never carry secret values."""

    title = "Error"


class InvalidInput(DomainError):
    title = "Invalid input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ValueTooLarge(DomainError):
    title = "Secret value too large"


class ReservedKey(InvalidInput):
    title = "Reserved key"


class NotAuthenticated(DomainError):
    title = "Not authenticated"


class Forbidden(DomainError):
    title = "Forbidden"


class SecretNotFound(DomainError):
    title = "Secret not found"


class VersionNotFound(DomainError):
    title = "Version not found"


class VersionGone(DomainError):
    """The version exists in history but its data was deleted or destroyed."""

    title = "Version deleted"


class VersionConflict(DomainError):
    """A check-and-set write lost against a concurrent change."""

    title = "Version conflict"

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class VaultUnavailable(DomainError):
    """Vault is unreachable, sealed or failing; the caller may retry later."""

    title = "Secret store unavailable"

    def __init__(self, message: str = "the secret store is unavailable", *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class VaultRefused(DomainError):
    """Vault refused the operation (permission denied or a request it calls invalid)."""

    title = "Secret store refused the operation"


class StorageUnavailable(DomainError):
    """The metadata database is unreachable or failing."""

    title = "Metadata store unavailable"

    def __init__(self, message: str = "the metadata store is unavailable", *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
