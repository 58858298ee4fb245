"""Where secrets live in Vault, and the rules for keys, tags, types, descriptions and values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from domain.errors import InvalidInput, ReservedKey, ValueTooLarge
from domain.secrets import (
    MAX_DESCRIPTION_BYTES,
    MAX_TAGS,
    MAX_VALUE_BYTES,
    RESERVED_KEYS,
    SecretMetadata,
    SecretType,
    locate,
    validate_custom_key,
    validate_custom_type,
    validate_description,
    validate_tags,
    validate_value,
)
from domain.values import SecretValue

pytestmark = pytest.mark.unit


# -- locate: the Vault path contract -------------------------------------------------------------


def test_custom_key_lives_under_custom() -> None:
    loc = locate("alice", "db_password")
    assert (loc.path, loc.value_field, loc.default_type) == (
        "users/alice/custom/db_password",
        "value",
        SecretType.CUSTOM,
    )
    assert loc.is_custom


def test_railway_token_lives_at_railway_with_field_token() -> None:
    loc = locate("alice", "railway")
    assert (loc.path, loc.value_field, loc.default_type) == ("users/alice/railway", "token", SecretType.RAILWAY_TOKEN)
    assert not loc.is_custom


def test_github_token_lives_at_github() -> None:
    loc = locate("alice", "github")
    assert (loc.path, loc.default_type) == ("users/alice/github", SecretType.GITHUB_PAT)
    assert not loc.is_custom


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS - {"railway", "github"}))
def test_reserved_words_are_not_custom_keys(key: str) -> None:
    with pytest.raises(ReservedKey):
        locate("alice", key)


@pytest.mark.parametrize("key", ["Railway", "GITHUB", "Docker", "HeAlTh", "Custom"])
def test_reserved_words_are_refused_in_any_case(key: str) -> None:
    with pytest.raises(ReservedKey):
        locate("alice", key)


@pytest.mark.parametrize("key", ["../github", "a/b", "..", "*", "", "ü", "k" * 129])
def test_invalid_custom_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        locate("alice", key)
    assert raised.type is InvalidInput
    assert raised.value.field == "key"


@pytest.mark.parametrize("user_id", ["", "*", "+", "../bob", "a/b", "..", "ü", "u" * 129])
def test_invalid_user_ids_are_refused(user_id: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        locate(user_id, "db_password")
    assert raised.value.field == "sub"


def test_invalid_user_id_is_refused_for_provider_keys_too() -> None:
    with pytest.raises(InvalidInput):
        locate("../bob", "railway")


def test_validate_custom_key_accepts_a_plain_key() -> None:
    validate_custom_key("stripe.live-key_2")


# -- tags, types, descriptions, values -----------------------------------------------------------


def test_tags_are_deduplicated_in_order() -> None:
    assert validate_tags(["prod", "db", "prod", "team:core"]) == ("prod", "db", "team:core")


def test_at_most_max_tags() -> None:
    assert len(validate_tags([f"t{i}" for i in range(MAX_TAGS)])) == MAX_TAGS
    with pytest.raises(InvalidInput):
        validate_tags([f"t{i}" for i in range(MAX_TAGS + 1)])


@pytest.mark.parametrize("tag", ["", " ", "-lead", "a b", "a,b", "a/b", "ü", "t" * 33, "a\n"])
def test_bad_tags_are_refused(tag: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_tags([tag])
    assert raised.value.field == "tags"


def test_tag_of_32_characters_is_accepted() -> None:
    assert validate_tags(["t" * 32]) == ("t" * 32,)


@pytest.mark.parametrize("secret_type", ["custom", "api_key", "database_password", "x1"])
def test_custom_types_accepted(secret_type: str) -> None:
    assert validate_custom_type(secret_type) == secret_type


@pytest.mark.parametrize("secret_type", ["", "Api", "1x", "api-key", "a b", "x" * 65])
def test_malformed_types_refused(secret_type: str) -> None:
    with pytest.raises(InvalidInput):
        validate_custom_type(secret_type)


@pytest.mark.parametrize("secret_type", ["railway_token", "github_pat", "docker_credentials"])
def test_provider_types_cannot_be_set_on_custom_secrets(secret_type: str) -> None:
    with pytest.raises(InvalidInput):
        validate_custom_type(secret_type)


def test_description_limits() -> None:
    assert validate_description("d" * MAX_DESCRIPTION_BYTES) == "d" * MAX_DESCRIPTION_BYTES
    with pytest.raises(InvalidInput):
        validate_description("d" * (MAX_DESCRIPTION_BYTES + 1))
    with pytest.raises(InvalidInput):
        validate_description("ü" * (MAX_DESCRIPTION_BYTES // 2 + 1))  # counted in bytes


@pytest.mark.parametrize("description", ["line\nbreak", "tab\there", "nul\x00"])
def test_description_refuses_control_characters(description: str) -> None:
    with pytest.raises(InvalidInput):
        validate_description(description)


def test_value_size_limits() -> None:
    validate_value(SecretValue("x" * MAX_VALUE_BYTES))
    with pytest.raises(ValueTooLarge):
        validate_value(SecretValue("x" * (MAX_VALUE_BYTES + 1)))
    with pytest.raises(ValueTooLarge):
        validate_value(SecretValue("ü" * (MAX_VALUE_BYTES // 2 + 1)))  # counted in bytes


def test_empty_value_is_refused() -> None:
    with pytest.raises(InvalidInput):
        validate_value(SecretValue(""))


# -- metadata encoding ---------------------------------------------------------------------------

CREATED = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
FALLBACK = SecretMetadata(created_by="fallback-user", created_at=datetime(2000, 1, 1, tzinfo=UTC), secret_type="custom")


def test_to_vault_encodes_strings_with_tags_as_json_array() -> None:
    meta = SecretMetadata(created_by="alice", created_at=CREATED, secret_type="api_key", tags=("prod", "db"))
    assert meta.to_vault() == {
        "created_by": "alice",
        "created_at": "2025-03-01T12:30:00+00:00",
        "secret_type": "api_key",
        "tags": '["prod","db"]',
    }
    assert json.loads(meta.to_vault()["tags"]) == ["prod", "db"]


def test_round_trip_through_vault_encoding() -> None:
    meta = SecretMetadata(
        created_by="alice",
        created_at=CREATED,
        secret_type="api_key",
        tags=("prod", "team:core"),
        description="the prod key",
        last_validated=datetime(2025, 3, 2, tzinfo=UTC),
    )
    assert SecretMetadata.from_vault(meta.to_vault(), fallback=FALLBACK) == meta


def test_round_trip_of_empty_tags() -> None:
    meta = SecretMetadata(created_by="alice", created_at=CREATED, secret_type="custom")
    assert meta.to_vault()["tags"] == "[]"
    assert SecretMetadata.from_vault(meta.to_vault(), fallback=FALLBACK) == meta


def test_decodes_a_comma_separated_tag_list() -> None:
    raw = {"created_by": "alice", "created_at": CREATED.isoformat(), "secret_type": "custom", "tags": "prod,db"}
    assert SecretMetadata.from_vault(raw, fallback=FALLBACK).tags == ("prod", "db")


def test_missing_fields_come_from_the_fallback() -> None:
    assert SecretMetadata.from_vault({}, fallback=FALLBACK) == FALLBACK


def test_unparseable_time_falls_back() -> None:
    decoded = SecretMetadata.from_vault({"created_at": "yesterday", "created_by": "bob"}, fallback=FALLBACK)
    assert decoded.created_at == FALLBACK.created_at
    assert decoded.created_by == "bob"


def test_a_json_string_tag_is_one_tag() -> None:
    assert SecretMetadata.from_vault({"tags": '"prod"'}, fallback=FALLBACK).tags == ("prod",)
