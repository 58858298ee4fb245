"""The whole app through Litestar's test client, against real OpenBao and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from litestar.testing import AsyncTestClient

from adapters.identity.dev_keys import issue_token
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings
from tests.support.env import api_env, provider_env
from tests.support.providers import FakeGitHub, FakeRailway, FakeTokenRegistry, FakeTokenServer


@pytest.fixture(scope="session")
def database_url(pg_url):
    return pg_url


@pytest.fixture(scope="session", params=["token", "jwt"], ids=["vault-token", "vault-jwt"])
def settings(request, openbao, database_url, signing_keys) -> Settings:
    """The API suite runs twice: one service token for all users, and each user's own Vault token."""
    return load_settings(api_env(openbao, database_url, signing_keys[1], user_auth=request.param))


@pytest.fixture(scope="session")
async def client(settings):
    # Litestar's test client runs the app in a thread of its own with its own event loop; the
    # container is built and closed there by the app's lifespan, so its tasks and pools live in
    # the loop that serves the requests.
    async with AsyncTestClient(app=create_app(settings=settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def container(client):
    return client.app.state.container


@pytest.fixture(scope="session")
def token_for(signing_keys) -> Callable[..., str]:
    def make(user: str, *, admin: bool = False, **claims) -> str:
        return issue_token(signing_keys[0], user, admin=admin, **claims)

    return make


@pytest.fixture
def user() -> str:
    """A fresh user per test, so tests never see each other's secrets."""
    return f"user_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def auth(user, token_for) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


# -- providers: the local Railway/GitHub/token-registry servers and an app wired to them (one per module)


@pytest.fixture(scope="module")
def railway():
    with FakeRailway() as server:
        yield server


@pytest.fixture(scope="module")
def github():
    with FakeGitHub() as server:
        yield server


@pytest.fixture(scope="module")
def token_registry():
    with FakeTokenServer(service=FakeTokenRegistry.SERVICE) as tokens:
        tokens.users["alice"] = "wonderland"
        with FakeTokenRegistry(tokens) as registry:
            yield registry


@pytest.fixture(scope="module", params=["token", "jwt"], ids=["vault-token", "vault-jwt"])
async def api(request, openbao, database_url, signing_keys, railway, github, token_registry, local_docker_registry):
    env = provider_env(
        openbao,
        database_url,
        signing_keys,
        railway,
        github,
        local_docker_registry.host,
        token_registry.host,
        user_auth=request.param,
    )
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        yield client
