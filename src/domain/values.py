"""Value types that make leaks hard to write and bad identifiers impossible to use."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from typing import NoReturn

_MASK = "********"


class SecretValue:
    """A secret string that prints as a mask; the plaintext is only reachable through `reveal()`."""

    __slots__ = ("_plain",)

    def __init__(self, plain: str) -> None:
        if not isinstance(plain, str):
            raise TypeError("SecretValue wraps a str")
        self._plain = plain

    def reveal(self) -> str:
        return self._plain

    def byte_length(self) -> int:
        return len(self._plain.encode())

    def __repr__(self) -> str:
        return f"SecretValue('{_MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._plain.encode(), other._plain.encode())

    def __hash__(self) -> int:
        return hash(("SecretValue", self._plain))

    def __reduce__(self) -> NoReturn:  # pickling would be a way around the mask
        raise TypeError("SecretValue cannot be pickled")


# Vault path segments are built from these, so anything that could change the shape of a path
# ('/', '..', control characters, Vault's glob/template characters) is refused up front.
_USER_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$")
_SECRET_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


# The same rules as JSON Schema patterns (ECMA regex, no lookahead) for the API schema: a dot is
# never followed by another, which is what the `".." not in` checks below enforce.
SECRET_KEY_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-])*\.?$"
USER_ID_PATTERN = r"^[A-Za-z0-9_](?:[A-Za-z0-9_@-]|\.[A-Za-z0-9_@-])*\.?$"
MAX_IDENTIFIER_LENGTH = 128


def is_valid_user_id(raw: str) -> bool:
    return bool(_USER_ID.fullmatch(raw)) and ".." not in raw


def is_valid_secret_key(raw: str) -> bool:
    return bool(_SECRET_KEY.fullmatch(raw)) and ".." not in raw


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller. `user_id` comes from the verified identity token, never from input.

    `credential` is the bearer token it was verified from: in per-user Vault mode the service logs
    in to Vault with it, so that Vault itself checks whose secrets are touched.
    """

    user_id: str
    is_admin: bool = False
    credential: SecretValue | None = field(default=None, compare=False, repr=False)
