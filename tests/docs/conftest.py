"""A world for the docs' examples: a served instance on its own OpenBao and database, with the
Railway and GitHub wire fakes and a real Docker registry, so every page starts from users with no
secrets and the values the docs show are the values that come back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest

from adapters.db.migrate import upgrade
from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keypair
from adapters.vault.bootstrap import JwtAuthSetup, bootstrap_vault
from tests.support.openbao import DevOpenBao, start_dev_openbao
from tests.support.postgres import create_test_database, drop_test_database
from tests.support.providers import FakeGitHub, FakeRailway
from tests.support.registry import LocalRegistry, RegistryUnavailable, start_docker_registry
from tests.support.served import ServedInstance, serve

REPO = Path(__file__).resolve().parents[2]
MOUNT = "mirage"
REGISTRY_USER = "mirage"
REGISTRY_PASSWORD = "docs-Registry-pass-1"
GITHUB_TOKEN_EXPIRY = "2099-01-31 00:00:00 UTC"
REDIS_URL = "redis://127.0.0.1:6379/0"  # what tests.support.served gives the instance


@dataclass(frozen=True)
class DocsWorld:
    instance: ServedInstance
    openbao: DevOpenBao
    database_url: str
    data_dir: Path
    railway: FakeRailway
    github: FakeGitHub
    registry: LocalRegistry

    def environment(self, workdir: Path) -> dict[str, str]:
        """What a page's examples see: the URL and tokens they use, fresh provider tokens per page.

        `MIRAGE_DATA_DIR` points `mirage-secrets dev-token` at this world's signing key, so a doc
        may mint its token the way a reader does."""
        bin_dir = REPO / ".venv" / "bin"
        token = self.instance.token("alice")
        return {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            "MIRAGE_DATA_DIR": str(self.data_dir),
            "MIRAGE_URL": self.instance.url,
            "TOKEN": token,
            "MIRAGE_TOKEN": token,
            "BOB_TOKEN": self.instance.token("bob"),
            "ADMIN_TOKEN": self.instance.token("admin", admin=True),
            "RAILWAY_TOKEN": self.railway.add_account_token(),
            "RAILWAY_NEW_TOKEN": self.railway.add_account_token(),
            "GITHUB_TOKEN": self.github.add_token(
                "github_pat_", login="octocat", scopes="repo, read:org", expiration=GITHUB_TOKEN_EXPIRY
            ),
            "REGISTRY": self.registry.host,
            "REGISTRY_USER": REGISTRY_USER,
            "REGISTRY_PASSWORD": REGISTRY_PASSWORD,
            # For the admin pages' commands: the settings the instance runs on.
            "VAULT_ADDR": self.openbao.addr,
            "VAULT_TOKEN": self.openbao.root_token,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "AUTH_ISSUER": DEV_ISSUER,
            "AUTH_AUDIENCE": DEV_AUDIENCE,
            "AUTH_PUBLIC_KEY_FILE": str(self.data_dir / "auth" / "dev-signing-key.pub.pem"),
            **self.provider_settings(),
        }

    def provider_settings(self) -> dict[str, str]:
        return {
            "RAILWAY_API_URL": self.railway.endpoint,
            "GITHUB_API_URL": self.github.api_url,
            "DOCKER_INSECURE_REGISTRIES": self.registry.host,
        }


@pytest.fixture(scope="session")
def docs_world(pg_admin_url, tmp_path_factory) -> Iterator[DocsWorld]:
    data_dir = tmp_path_factory.mktemp("docs-data")
    signing_keys = ensure_dev_keypair(data_dir / "auth")
    openbao = start_dev_openbao()
    database_url = create_test_database(pg_admin_url)
    railway = FakeRailway().start()
    github = FakeGitHub().start()
    try:
        registry = start_docker_registry({REGISTRY_USER: REGISTRY_PASSWORD})
    except RegistryUnavailable as exc:
        pytest.fail(str(exc))
    try:
        client = hvac.Client(url=openbao.addr, token=openbao.root_token)
        jwt = JwtAuthSetup(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_key_pem=signing_keys[1].read_text())
        bootstrap_vault(client, MOUNT, jwt=jwt, user_auth="jwt")
        client.adapter.close()
        upgrade(database_url)
        with serve(
            vault_addr=openbao.addr,
            vault_token=openbao.root_token,
            database_url=database_url,
            signing_keys=signing_keys,
            log_dir=tmp_path_factory.mktemp("docs-served"),
            extra_env={
                # The documented default budgets (tests.support.served lifts them for other tests),
                # so the rate-limit example meets the limit a reader meets. The counters' key prefix
                # is the instance's own already.
                "RATE_LIMIT_PROVIDER_CALLS": "10/minute",
                "RATE_LIMIT_FAILED_AUTH": "20/minute",
                "RAILWAY_API_URL": railway.endpoint,
                "GITHUB_API_URL": github.api_url,
                "DOCKER_INSECURE_REGISTRIES": registry.host,
            },
        ) as instance:
            yield DocsWorld(instance, openbao, database_url, data_dir, railway, github, registry)
    finally:
        registry.stop()
        github.stop()
        railway.stop()
        drop_test_database(pg_admin_url, database_url)
        openbao.stop()
