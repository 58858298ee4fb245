"""The whole app through Litestar's test client, against real OpenBao and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from litestar.testing import AsyncTestClient

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, issue_token
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings


@pytest.fixture(scope="session")
def database_url(pg_url):
    return pg_url


def api_env(openbao, database_url: str, public_key, *, user_auth: str = "token") -> dict[str, str]:
    return {
        "VAULT_USER_AUTH": user_auth,
        "VAULT_ADDR": openbao.addr,
        "VAULT_TOKEN": openbao.root_token,
        "DATABASE_URL": database_url,
        "AUTH_PUBLIC_KEY_FILE": str(public_key),
        "AUTH_ISSUER": DEV_ISSUER,
        "AUTH_AUDIENCE": DEV_AUDIENCE,
        # The suite fails authentication on purpose, far more often than the production budget.
        "RATE_LIMIT_PROVIDER_CALLS": "100000/minute",
        "RATE_LIMIT_FAILED_AUTH": "100000/minute",
        # The lifecycle tests drive the cleanup pass themselves; a background pass would race them.
        "SECRET_CLEANUP_INTERVAL_SECONDS": "0",
    }


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
