"""Registry logins the way `docker login` does them.

Basic auth against a real registry (Debian's `docker-registry`, distribution 2.8, with htpasswd);
token (Bearer) auth against a local token server + registry endpoint that answer like
distribution behind an auth server.

Documented choice: a registry that can't be reached (refused connection, unknown host, timeout)
raises `ProviderUnavailable`; wrong credentials are `valid=False` with a detail.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from adapters.providers.docker_registry import (
    DockerRegistryLoginTester,
    parse_www_authenticate,
    registry_base_url,
)
from domain.providers import ProviderRateLimited, ProviderUnavailable
from domain.values import SecretValue
from tests.support.ports import free_port
from tests.support.providers import FakeTokenRegistry, Reply
from tests.support.registry import REGISTRY_USERS

pytestmark = pytest.mark.integration


TIMEOUT_S = 2.0


# -- real registry, htpasswd (Basic) ---------------------------------------------------------


@pytest.mark.parametrize("username", sorted(REGISTRY_USERS))
async def test_good_login_against_real_registry(local_docker_registry, http, capture, username):
    tester = DockerRegistryLoginTester(http, frozenset({local_docker_registry.host}))
    password = REGISTRY_USERS[username]

    result = await tester.test(local_docker_registry.host, username, SecretValue(password))

    assert result.valid is True, result.detail
    assert result.scheme == "basic"
    assert username in result.detail and password not in result.detail
    assert f"GET {local_docker_registry.url}/v2/" in capture.text  # plain http: host is insecure
    assert password not in capture.text


async def test_wrong_password_against_real_registry(local_docker_registry, http, capture):
    tester = DockerRegistryLoginTester(http, frozenset({local_docker_registry.host}))

    result = await tester.test(local_docker_registry.host, "mirage", SecretValue("not-the-password"))

    assert result.valid is False
    assert "rejected the credentials" in result.detail and "HTTP 401" in result.detail
    assert "not-the-password" not in result.detail and "not-the-password" not in capture.text


async def test_unknown_user_against_real_registry(local_docker_registry, http):
    tester = DockerRegistryLoginTester(http, frozenset({local_docker_registry.host}))

    result = await tester.test(local_docker_registry.host, "mallory", SecretValue(REGISTRY_USERS["mirage"]))

    assert result.valid is False


async def test_https_by_default_so_a_plain_http_registry_is_unreachable(local_docker_registry, http):
    # Not listed as insecure: we speak TLS to a plain-http port, which fails; never downgrade.
    tester = DockerRegistryLoginTester(http, frozenset())

    with pytest.raises(ProviderUnavailable):
        await tester.test(local_docker_registry.host, "mirage", SecretValue(REGISTRY_USERS["mirage"]))


async def test_refused_connection_is_unavailable(http):
    host = f"127.0.0.1:{free_port()}"

    with pytest.raises(ProviderUnavailable) as caught:
        await DockerRegistryLoginTester(http, frozenset({host})).test(host, "u", SecretValue("p"))

    assert host in str(caught.value) and "unreachable" in str(caught.value)


async def test_unknown_host_is_unavailable(http):
    host = "registry.invalid"  # RFC 2606: never resolves

    with pytest.raises(ProviderUnavailable):
        await DockerRegistryLoginTester(http, frozenset({host})).test(host, "u", SecretValue("p"))


# -- token auth (Bearer) ---------------------------------------------------------------------


def _tester(registry: FakeTokenRegistry, http: httpx.AsyncClient) -> DockerRegistryLoginTester:
    return DockerRegistryLoginTester(http, frozenset({registry.host}))


async def test_bearer_flow_good_login(fake_token_registry, http, capture):
    tokens = fake_token_registry.token_server

    result = await _tester(fake_token_registry, http).test(fake_token_registry.host, "alice", SecretValue("wonderland"))

    assert result.valid is True, result.detail
    assert result.scheme == "bearer"
    ping, final = fake_token_registry.requests
    assert ping.header("authorization") is None
    (token_request,) = tokens.requests
    assert token_request.path == "/token"
    assert token_request.query["service"] == [FakeTokenRegistry.SERVICE]
    assert token_request.query["account"] == ["alice"]
    assert token_request.header("authorization") == "Basic " + base64.b64encode(b"alice:wonderland").decode()
    (issued,) = tokens.issued
    assert final.header("authorization") == f"Bearer {issued}"
    assert "wonderland" not in capture.text and issued not in capture.text


@pytest.mark.parametrize("field", ["token", "access_token"])
async def test_bearer_flow_accepts_either_token_field(fake_token_registry, http, field):
    fake_token_registry.token_server.token_field = field

    result = await _tester(fake_token_registry, http).test(fake_token_registry.host, "alice", SecretValue("wonderland"))

    assert result.valid is True


async def test_bearer_flow_wrong_password(fake_token_registry, http):
    result = await _tester(fake_token_registry, http).test(fake_token_registry.host, "alice", SecretValue("nope"))

    assert result.valid is False
    assert "token service" in result.detail and "HTTP 401" in result.detail
    assert len(fake_token_registry.requests) == 1  # no final ping without a token


async def test_bearer_flow_token_refused_by_registry(fake_token_registry, http):
    # The token service says yes but the registry does not accept its token: not a login.
    fake_token_registry.queue(
        Reply(
            401,
            {},
            {
                "WWW-Authenticate": f'Bearer realm="{fake_token_registry.token_server.realm}",service="{FakeTokenRegistry.SERVICE}"'
            },
        ),
        Reply(401, {"errors": [{"code": "UNAUTHORIZED"}]}),
    )

    result = await _tester(fake_token_registry, http).test(fake_token_registry.host, "alice", SecretValue("wonderland"))

    assert result.valid is False and "refused the token" in result.detail


async def test_plain_http_realm_refused_for_a_tls_registry():
    # A TLS registry pointing us at a plain-http realm would leak the password: refuse.
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "registry.example.com":
            return httpx.Response(
                401, headers={"WWW-Authenticate": 'Bearer realm="http://auth.example.com/token",service="x"'}
            )
        raise AssertionError(f"credentials must not be sent to {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        result = await DockerRegistryLoginTester(client).test("registry.example.com", "u", SecretValue("p"))

    assert result.valid is False and "plain-http" in result.detail


async def test_anonymous_registry_is_valid_with_a_detail(http):
    with FakeTokenRegistry(mode="open") as registry:
        result = await _tester(registry, http).test(registry.host, "u", SecretValue("p"))

    assert result.valid is True
    assert "requires no authentication" in result.detail and result.scheme == "none"


async def test_not_a_v2_registry(http):
    with FakeTokenRegistry(mode="not_v2") as registry:
        result = await _tester(registry, http).test(registry.host, "u", SecretValue("p"))

    assert result.valid is False and "404" in result.detail


async def test_registry_429_and_5xx(fake_token_registry, http):
    tester = _tester(fake_token_registry, http)
    fake_token_registry.queue(Reply(429, {}, {"Retry-After": "17"}))
    with pytest.raises(ProviderRateLimited) as limited:
        await tester.test(fake_token_registry.host, "alice", SecretValue("wonderland"))
    assert limited.value.retry_after == 17

    fake_token_registry.queue(Reply(503, "down"))
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        await tester.test(fake_token_registry.host, "alice", SecretValue("wonderland"))


# -- URL rules and challenge parsing -----------------------------------------------------------


def test_base_urls():
    assert registry_base_url("docker.io") == "https://registry-1.docker.io"
    assert registry_base_url("index.docker.io") == "https://registry-1.docker.io"
    assert registry_base_url("https://index.docker.io/v1/") == "https://registry-1.docker.io"
    assert registry_base_url("ghcr.io") == "https://ghcr.io"
    assert registry_base_url("127.0.0.1:5000", frozenset({"127.0.0.1:5000"})) == "http://127.0.0.1:5000"
    assert registry_base_url("127.0.0.1:5000") == "https://127.0.0.1:5000"


def test_parse_challenges():
    assert parse_www_authenticate('Basic realm="basic-realm"') == ("basic", {"realm": "basic-realm"})
    scheme, params = parse_www_authenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:a/b:pull",
    }
