"""Pure provider helpers: consumer formats, token types, header parsing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from adapters.providers.github import parse_github_token_expiration, parse_oauth_scopes
from adapters.providers.http import parse_retry_after
from domain.errors import InvalidInput
from domain.providers import (
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    docker_config_auth_entry,
    docker_config_key,
    github_token_type,
    normalize_registry,
    railway_registry_credentials,
)
from domain.values import SecretValue

pytestmark = pytest.mark.unit


def _decoded(entry: dict, key: str) -> str:
    return base64.b64decode(entry["auths"][key]["auth"]).decode()


def test_docker_config_entry_for_a_plain_registry():
    entry = docker_config_auth_entry("ghcr.io", "octocat", SecretValue("ghp_pass:with:colons"))
    assert list(entry) == ["auths"]
    assert list(entry["auths"]) == ["ghcr.io"]
    assert _decoded(entry, "ghcr.io") == "octocat:ghp_pass:with:colons"


@pytest.mark.parametrize(
    "alias", ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "DOCKER.IO"]
)
def test_docker_hub_aliases_use_the_v1_index_key(alias):
    entry = docker_config_auth_entry(alias, "me", SecretValue("pw"))
    assert list(entry["auths"]) == ["https://index.docker.io/v1/"]
    assert _decoded(entry, "https://index.docker.io/v1/") == "me:pw"


def test_registry_with_port_and_scheme_keeps_the_bare_host():
    assert docker_config_key("https://registry.example.com:5000/") == "registry.example.com:5000"
    assert normalize_registry("Registry.Example.com") == "registry.example.com"


@pytest.mark.parametrize("bad", ["", "a/../b", "host name", "ho$t", "http://", "-bad.example"])
def test_malformed_registries_are_refused(bad):
    with pytest.raises(InvalidInput):
        normalize_registry(bad)


def test_railway_registry_credentials_pair():
    assert railway_registry_credentials("octocat", SecretValue("pw")) == {"username": "octocat", "password": "pw"}


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("ghp_" + "a" * 36, "classic"),
        ("github_pat_11ABCDEFG0123456789_abcdef", "fine_grained"),
        ("gho_" + "b" * 36, "oauth"),
        ("ghu_" + "c" * 36, "user_to_server"),
        ("ghs_" + "d" * 36, "server_to_server"),
        ("ghr_" + "e" * 36, "refresh"),
        ("0123456789abcdef0123456789abcdef01234567", "unknown"),
        ("", "unknown"),
    ],
)
def test_github_token_type_from_prefix(token, kind):
    assert github_token_type(SecretValue(token)) == kind


def test_expiration_header_in_utc_form():
    assert parse_github_token_expiration("2026-09-03 02:34:04 UTC") == datetime(2026, 9, 3, 2, 34, 4, tzinfo=UTC)


def test_expiration_header_in_offset_form_is_converted_to_utc():
    parsed = parse_github_token_expiration("2026-09-03 02:34:04 +0200")
    assert parsed == datetime(2026, 9, 3, 0, 34, 4, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(0)
    assert parse_github_token_expiration("2026-09-02 19:34:04 -0700") == datetime(2026, 9, 3, 2, 34, 4, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["", "tomorrow", "2026-09-03", "2026-09-03T02:34:04Z"])
def test_expiration_header_garbage_raises_value_error(bad):
    with pytest.raises(ValueError):
        parse_github_token_expiration(bad)


def test_oauth_scopes_comma_space():
    assert parse_oauth_scopes("repo, read:org, workflow") == ("repo", "read:org", "workflow")
    assert parse_oauth_scopes("repo,read:org") == ("repo", "read:org")
    assert parse_oauth_scopes("") == ()
    assert parse_oauth_scopes(None) == ()


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:45 GMT", now=now) == 45
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_provider_errors_carry_provider_and_retry_after():
    rejected = ProviderRejected("railway", "Railway answered: Not Authorized")
    assert rejected.provider == "railway" and str(rejected) == "Railway answered: Not Authorized"
    unavailable = ProviderUnavailable("github", 7, reason="HTTP 502")
    assert unavailable.retry_after == 7 and str(unavailable) == "GitHub is unavailable: HTTP 502"
    limited = ProviderRateLimited("railway", 30)
    assert limited.retry_after == 30 and "30" in str(limited)
