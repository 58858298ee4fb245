"""SecretValue hides its plaintext everywhere but `reveal()`; identifiers refuse path-shaping input."""

from __future__ import annotations

import logging
import pickle

import pytest

from domain.values import SecretValue, is_valid_secret_key, is_valid_user_id

pytestmark = pytest.mark.unit


PLAIN = "hunter2-plaintext"


@pytest.fixture
def secret() -> SecretValue:
    return SecretValue(PLAIN)


@pytest.mark.parametrize(
    "render",
    [
        repr,
        str,
        lambda v: f"{v}",
        lambda v: f"{v!r}",
        lambda v: f"{v:>40}",
        lambda v: format(v, "s"),
        lambda v: "%s" % v,  # noqa: UP031  (the old formatting is what is tested)
        lambda v: "%r" % (v,),  # noqa: UP031
        lambda v: "{}".format(v),  # noqa: UP032
        lambda v: str([v]),
        lambda v: str({"token": v}),
    ],
    ids=[
        "repr",
        "str",
        "fstring",
        "fstring-r",
        "fstring-spec",
        "format",
        "percent-s",
        "percent-r",
        "str.format",
        "in-list",
        "in-dict",
    ],
)
def test_rendering_never_shows_the_plaintext(secret: SecretValue, render) -> None:
    text = render(secret)
    assert PLAIN not in text
    assert "********" in text


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_logging_a_secret_value_logs_the_mask(secret: SecretValue) -> None:
    logger = logging.getLogger("tests.unit.values")
    handler = _Capture()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("token is %s", secret)
        logger.info("token is %r", secret)
        logger.info("args %s", {"value": secret})
    finally:
        logger.removeHandler(handler)
    assert len(handler.lines) == 3
    assert all(PLAIN not in line for line in handler.lines)
    assert handler.lines[0] == "token is SecretValue('********')"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_cannot_be_pickled(secret: SecretValue, protocol: int) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(secret, protocol=protocol)


def test_reveal_returns_the_plaintext(secret: SecretValue) -> None:
    assert secret.reveal() == PLAIN


def test_byte_length_counts_utf8_bytes() -> None:
    assert SecretValue("ü").byte_length() == 2


def test_wraps_only_strings() -> None:
    with pytest.raises(TypeError):
        SecretValue(b"bytes")  # type: ignore[arg-type]


def test_equal_when_plaintexts_are_equal() -> None:
    assert SecretValue("a") == SecretValue("a")
    assert SecretValue("a") != SecretValue("b")
    assert hash(SecretValue("a")) == hash(SecretValue("a"))


def test_never_equal_to_a_bare_string() -> None:
    assert SecretValue("a") != "a"


@pytest.mark.parametrize(
    "user_id",
    ["alice", "user_2abcDEF123", "a.b", "alice@example.com", "0", "_svc", "a-b", "u" * 128],
)
def test_accepted_user_ids(user_id: str) -> None:
    assert is_valid_user_id(user_id)


HOSTILE = [
    "",
    "*",
    "+",
    "../",
    "../x",
    "a/b",
    "..",
    "a..b",
    "%2e%2e",
    "a%2fb",
    "a b",
    "a\nb",
    "abc\n",
    "a\x00b",
    "a\tb",
    "\x7f",
    "ü",
    "caf\u00e9",
    "\u0430dmin",  # Cyrillic 'а'
    "{{identity.entity.id}}",
    "a\\b",
    "x" * 129,
]


@pytest.mark.parametrize("raw", [*HOSTILE, ".hidden", "-a", "@a"])
def test_refused_user_ids(raw: str) -> None:
    assert not is_valid_user_id(raw)


@pytest.mark.parametrize("key", ["db_password", "API-KEY", "a", "v1.2", "9lives", "k" * 128])
def test_accepted_secret_keys(key: str) -> None:
    assert is_valid_secret_key(key)


@pytest.mark.parametrize("raw", [*HOSTILE, ".env", "_a", "-a", "a@b"])
def test_refused_secret_keys(raw: str) -> None:
    assert not is_valid_secret_key(raw)
