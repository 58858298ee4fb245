"""The validation rules as the API schema states them, for fields whose rules the domain enforces.

The domain answers a broken rule with a 422 problem naming the field; Litestar would answer a
schema constraint it enforces itself with a 400. So these constraints are documentation only
(`schema_extra`, msgspec's `extra_json_schema`): the schema tells clients, and fuzzers, exactly
what the server accepts, and the domain stays the one place that decides.
"""

from __future__ import annotations

from typing import Any

from domain.credentials import MAX_ENV_VAR_NAME
from domain.providers import MAX_REGISTRY_LENGTH
from domain.secrets import MAX_FILTER_LENGTH, MAX_TAGS, PROVIDER_TYPES
from domain.values import MAX_IDENTIFIER_LENGTH, SECRET_KEY_PATTERN, USER_ID_PATTERN
from services.provider_common import MAX_TOKEN_BYTES

# Printable text: no C0/C1 controls, DEL or bidi overrides (`domain.secrets.has_unsafe_text`).
PRINTABLE_TEXT_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$"
TAG_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$"
TYPE_PATTERN = "^[a-z][a-z0-9_]{0,63}$"
TOKEN_PATTERN = "^[!-~]+$"  # printable ASCII, no spaces: what an HTTP header can carry
ENV_VAR_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"
# `domain.providers._REGISTRY_HOST`: DNS labels of at most 63 characters, an optional port.
REGISTRY_PATTERN = (
    "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    "(?::[0-9]{1,5})?$"
)

SECRET_KEY: dict[str, Any] = {"minLength": 1, "maxLength": MAX_IDENTIFIER_LENGTH, "pattern": SECRET_KEY_PATTERN}
USER_ID: dict[str, Any] = {"minLength": 1, "maxLength": MAX_IDENTIFIER_LENGTH, "pattern": USER_ID_PATTERN}
ENV_ID = SECRET_KEY
ENV_VAR_NAME: dict[str, Any] = {"minLength": 1, "maxLength": MAX_ENV_VAR_NAME, "pattern": ENV_VAR_NAME_PATTERN}
REGISTRY: dict[str, Any] = {"minLength": 1, "maxLength": MAX_REGISTRY_LENGTH, "pattern": REGISTRY_PATTERN}
FILTER: dict[str, Any] = {"maxLength": MAX_FILTER_LENGTH, "pattern": PRINTABLE_TEXT_PATTERN}
TAG: dict[str, Any] = {"pattern": TAG_PATTERN}
TAGS: dict[str, Any] = {"maxItems": MAX_TAGS}
# Custom types: the provider types are set by the provider endpoints only.
TYPE: dict[str, Any] = {"pattern": TYPE_PATTERN, "not": {"enum": sorted(str(t) for t in PROVIDER_TYPES)}}
DESCRIPTION: dict[str, Any] = {"pattern": PRINTABLE_TEXT_PATTERN}
TOKEN: dict[str, Any] = {"minLength": 1, "maxLength": MAX_TOKEN_BYTES, "pattern": TOKEN_PATTERN}
NON_EMPTY: dict[str, Any] = {"minLength": 1}
# `services.docker_credentials`: a user name without ':' or C0 controls; an address with an '@'.
REGISTRY_USERNAME: dict[str, Any] = {"pattern": "^[^:\\x00-\\x1f]{1,256}$"}
EMAIL: dict[str, Any] = {"maxLength": 256, "pattern": "^[^\\x00-\\x20]*@[^\\x00-\\x20]*$"}


def meta(extra: dict[str, Any]) -> dict[str, Any]:
    """`Meta(extra_json_schema=...)` in the form Litestar's msgspec plugin reads."""
    return {"extra": extra}
