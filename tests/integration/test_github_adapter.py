"""GitHub REST adapter against a local server that speaks GitHub's wire format."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from adapters.providers.github import GitHubTokenValidatorHttp
from domain.providers import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from domain.values import SecretValue
from tests.support.ports import free_port
from tests.support.providers import Reply

pytestmark = pytest.mark.integration


TIMEOUT_S = 0.5


async def test_classic_pat_with_scopes_and_utc_expiry(fake_github, http, capture):
    token = fake_github.add_token(
        "ghp_",
        login="octocat",
        scopes="repo, read:org",
        expiration="2026-09-03 02:34:04 UTC",
        public_repos=8,
        total_private_repos=2,
    )

    info = await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue(token))

    assert info.username == "octocat"
    assert info.user_id == fake_github.tokens[token].id
    assert info.scopes == ("repo", "read:org")
    assert info.token_type == "classic"
    assert info.expires_at == datetime(2026, 9, 3, 2, 34, 4, tzinfo=UTC)
    assert (info.public_repos, info.total_private_repos) == (8, 2)
    assert info.repository_count == 10

    sent, listing = fake_github.requests
    assert (sent.method, sent.path) == ("GET", "/user")
    # The repository count: one page of one repository, whose Link header names the last page.
    assert (listing.path, listing.query) == ("/user/repos", {"per_page": ["1"]})
    assert listing.header("authorization") == f"Bearer {token}"
    assert sent.header("authorization") == f"Bearer {token}"
    assert sent.header("accept") == "application/vnd.github+json"
    assert sent.header("x-github-api-version") == "2022-11-28"
    assert sent.header("user-agent")
    assert "HTTP Request: GET" in capture.text
    assert token not in capture.text and token not in repr(info)


async def test_repository_count_from_the_link_header_or_what_user_said(fake_github, http, monkeypatch):
    validator = GitHubTokenValidatorHttp(fake_github.api_url, http)
    many = fake_github.add_token("github_pat_", repositories=1234)
    assert (await validator.validate(SecretValue(many))).repository_count == 1234
    none = fake_github.add_token("ghp_", public_repos=0, repositories=0)
    assert (await validator.validate(SecretValue(none))).repository_count == 0
    one = fake_github.add_token("ghp_", public_repos=1, repositories=1)
    assert (await validator.validate(SecretValue(one))).repository_count == 1  # no Link: the body's length

    # The listing fails: what GET /user said about owned repositories, or nothing.
    answer = fake_github.answer

    def listing_fails(request):
        return Reply(502, {"message": "Server Error"}) if request.path == "/user/repos" else answer(request)

    monkeypatch.setattr(fake_github, "answer", listing_fails)
    owned = fake_github.add_token("ghp_", public_repos=4, total_private_repos=3, repositories=50)
    assert (await validator.validate(SecretValue(owned))).repository_count == 7
    fine = fake_github.add_token("github_pat_", public_repos=2, repositories=9)
    assert (await validator.validate(SecretValue(fine))).repository_count is None


async def test_fine_grained_pat_has_no_scopes_and_offset_expiry(fake_github, http):
    token = fake_github.add_token("github_pat_", login="hubot", expiration="2026-09-03 02:34:04 +0200")

    info = await GitHubTokenValidatorHttp(fake_github.api_url + "/", http).validate(SecretValue(token))

    assert info.token_type == "fine_grained"
    assert info.scopes == ()
    assert info.expires_at == datetime(2026, 9, 3, 0, 34, 4, tzinfo=UTC)
    assert info.total_private_repos is None
    assert fake_github.requests[0].path == "/user"  # trailing slash in the base tolerated


async def test_token_without_expiry(fake_github, http):
    token = fake_github.add_token("gho_", scopes="")

    info = await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue(token))

    assert info.token_type == "oauth" and info.expires_at is None and info.scopes == ()


async def test_unparseable_expiry_is_dropped_not_fatal(fake_github, http):
    token = fake_github.add_token("ghp_", expiration="someday")

    info = await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue(token))

    assert info.expires_at is None


async def test_bad_credentials(fake_github, http, capture):
    token = "ghp_" + "x" * 36

    with pytest.raises(ProviderRejected) as caught:
        await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue(token))

    assert str(caught.value) == "GitHub answered: Bad credentials"
    assert caught.value.provider == "github"
    assert token not in capture.text and token not in repr(caught.value)


async def test_primary_rate_limit_403_uses_reset_epoch(fake_github, http):
    token = fake_github.add_token()
    fake_github.rate_limit(reset_in=120, status=403)
    now = time.time()

    with pytest.raises(ProviderRateLimited) as caught:
        await GitHubTokenValidatorHttp(fake_github.api_url, http, clock=lambda: now).validate(SecretValue(token))

    assert 118 <= caught.value.retry_after <= 121


async def test_rate_limit_429_with_retry_after(fake_github, http):
    token = fake_github.add_token()
    fake_github.secondary_rate_limit(retry_after=60, status=429)

    with pytest.raises(ProviderRateLimited) as caught:
        await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue(token))

    assert caught.value.retry_after == 60


async def test_403_without_rate_limit_is_a_rejection(fake_github, http):
    fake_github.queue(Reply(403, {"message": "Resource not accessible by personal access token"}))

    with pytest.raises(ProviderRejected, match="GitHub answered: Resource not accessible"):
        await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue("ghp_" + "z" * 36))


async def test_5xx_is_unavailable(fake_github, http):
    fake_github.fail(502)

    with pytest.raises(ProviderUnavailable, match="HTTP 502"):
        await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue(fake_github.add_token()))


async def test_slow_answer_times_out(fake_github, http, capture):
    token = fake_github.add_token()
    fake_github.delay_seconds = TIMEOUT_S * 4

    with pytest.raises(ProviderUnavailable, match="timed out") as caught:
        await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue(token))

    assert caught.value.__cause__ is None
    assert token not in capture.text


async def test_nothing_listening_is_unavailable(http):
    with pytest.raises(ProviderUnavailable):
        await GitHubTokenValidatorHttp(f"http://127.0.0.1:{free_port()}", http).validate(SecretValue("ghp_abc"))


async def test_a_token_http_headers_cannot_carry_is_rejected_without_a_request(fake_github, http):
    with pytest.raises(ProviderRejected):
        await GitHubTokenValidatorHttp(fake_github.api_url, http).validate(SecretValue("tok\u00e8n"))
    assert fake_github.requests == []
