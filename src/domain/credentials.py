"""Provider credentials the service keeps per user: token sources, environments, env-var rules.

Ports for the users table (where each user's Railway token comes from) and the environments the
service knows; the rules for environment variable names and values; the `.env` parser. stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.errors import DomainError, InvalidInput
from domain.values import SecretValue, is_valid_secret_key

TOKEN_SOURCE_VAULT = "vault"
TOKEN_SOURCE_ENV = "env"


class CredentialMissing(DomainError):
    """The caller has no credential for `provider` (`domain.providers.RAILWAY`, ...) and no fallback
    applies. Where to add one (a page, an endpoint) is the entrypoint's to say."""

    title = "Credential not configured"

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


class VaultDisabled(DomainError):
    """Per-user tokens are switched off (`SECRETS_VAULT_ENABLED=false`)."""

    title = "Per-user secrets are disabled"


# --------------------------------------------------------------------------------------------
# Environment variables

ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ENV_VAR_NAME = 256
MAX_ENV_VAR_VALUE_BYTES = 32 * 1024
MAX_ENV_VARS = 500
MAX_ENV_TOTAL_BYTES = 512 * 1024  # one Vault entry holds them all; Vault's limit is 1 MiB


def validate_environment_id(env_id: str) -> str:
    if not is_valid_secret_key(env_id):
        raise InvalidInput("an environment id is 1-128 characters of letters, digits, '_', '.' and '-'", field="env_id")
    return env_id


def validate_env_var_name(name: str) -> str:
    if len(name) > MAX_ENV_VAR_NAME or not ENV_VAR_NAME.fullmatch(name):
        raise InvalidInput(
            f"{name[:64]!r} is not a POSIX variable name (letters, digits and '_', not starting with a digit)",
            field="key",
        )
    return name


def validate_env_var_value(name: str, value: SecretValue) -> SecretValue:
    if value.byte_length() > MAX_ENV_VAR_VALUE_BYTES:
        raise InvalidInput(f"the value of {name} is larger than {MAX_ENV_VAR_VALUE_BYTES} bytes", field="value")
    if "\x00" in value.reveal():
        raise InvalidInput(f"the value of {name} contains a NUL character", field="value")
    return value


def validate_env_vars(variables: Mapping[str, SecretValue]) -> dict[str, SecretValue]:
    """All names and values valid, or `InvalidInput` naming the first bad one (never a value)."""
    if len(variables) > MAX_ENV_VARS:
        raise InvalidInput(f"at most {MAX_ENV_VARS} variables per environment", field="secrets")
    total = 0
    for name, value in variables.items():
        validate_env_var_name(name)
        validate_env_var_value(name, value)
        total += len(name) + value.byte_length()
    if total > MAX_ENV_TOTAL_BYTES:
        raise InvalidInput(f"an environment holds at most {MAX_ENV_TOTAL_BYTES} bytes of variables", field="secrets")
    return dict(variables)


_DOUBLE_QUOTED_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


def parse_dotenv(text: str) -> dict[str, SecretValue]:
    """A pasted `.env` file: `KEY=value` lines, `export KEY=value`, `#` comments, blank lines,
    'single' (literal) and "double" (\\n, \\t, \\", \\\\ escapes) quoted values, which may span lines.

    Raises `InvalidInput` naming the line number (never its content) for a line it can't read.
    Later lines win over earlier ones with the same name.
    """
    result: dict[str, SecretValue] = {}
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith(("export ", "export\t")):
            line = line[len("export") :].lstrip()
        name, sep, rest = line.partition("=")
        name = name.strip()
        if not sep or not ENV_VAR_NAME.fullmatch(name):
            raise InvalidInput(f"line {number} of the .env text is not KEY=value with a POSIX name", field="dotenv")
        rest = rest.lstrip()
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            body = rest[1:]
            # A quoted value may continue on the next lines until its closing quote.
            while _closing_quote(body, quote) < 0 and index < len(lines):
                body += "\n" + lines[index]
                index += 1
            end = _closing_quote(body, quote)
            if end < 0:
                raise InvalidInput(f"line {number} of the .env text has an unterminated quote", field="dotenv")
            trailing = body[end + 1 :].strip()
            if trailing and not trailing.startswith("#"):
                raise InvalidInput(f"line {number} of the .env text has text after the closing quote", field="dotenv")
            raw = body[:end]
            value = _unescape(raw) if quote == '"' else raw
        else:
            # Unquoted: an inline comment starts at " #".
            comment = rest.find(" #")
            value = (rest[:comment] if comment >= 0 else rest).strip()
        result[name] = SecretValue(value)
    return result


def _closing_quote(body: str, quote: str) -> int:
    escaped = False
    for position, char in enumerate(body):
        if quote == '"' and char == "\\" and not escaped:
            escaped = True
            continue
        if char == quote and not escaped:
            return position
        escaped = False
    return -1


def _unescape(raw: str) -> str:
    out: list[str] = []
    chars = iter(raw)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append(_DOUBLE_QUOTED_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(char)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Ports


@dataclass(frozen=True, slots=True)
class RailwayTarget:
    """Where an environment's variables go on Railway."""

    project_id: str
    environment_id: str
    service_id: str | None = None


@dataclass(frozen=True, slots=True)
class EnvironmentRecord:
    user_id: str
    env_id: str
    created_at: datetime
    updated_at: datetime
    railway: RailwayTarget | None = None


@dataclass(frozen=True, slots=True)
class TokenSourceCounts:
    """How many users get their Railway token from Vault, from the shared env token, or not at all."""

    total: int
    vault: int
    env: int
    none: int
