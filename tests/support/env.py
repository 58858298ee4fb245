"""The environment a test app is built from: the session's OpenBao, PostgreSQL and signing key."""

from __future__ import annotations

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER

# The provider endpoints the API tests call.
RAILWAY = "/api/v1/secrets/railway"
GITHUB = "/api/v1/secrets/github"
DOCKER = "/api/v1/secrets/docker"


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


def provider_env(openbao, database_url, signing_keys, railway, github, *insecure: str, user_auth="token", **extra):
    return (
        api_env(openbao, database_url, signing_keys[1], user_auth=user_auth)
        | {
            "RAILWAY_API_URL": railway.endpoint,
            "GITHUB_API_URL": github.api_url,
            "DOCKER_INSECURE_REGISTRIES": ",".join(insecure),
            "PROVIDER_TIMEOUT_SECONDS": "3",
        }
        | extra
    )
