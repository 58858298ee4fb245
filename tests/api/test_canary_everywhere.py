"""Invariant 1 across the whole service: planted values (a provider token, a registry password, an
environment value, a custom secret) appear only in the responses that return them on purpose,
never in logs, spans, metrics, audit rows or error bodies."""

from __future__ import annotations

import logging
import uuid

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.support.env import provider_env
from tests.support.providers import FakeGitHub, FakeRailway
from tests.support.registry import REGISTRY_USERS

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def spans():
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # nothing configured yet in this process
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="module")
def providers():
    with FakeRailway() as railway, FakeGitHub() as github:
        yield railway, github


@pytest.fixture(scope="module")
async def api(spans, providers, openbao, database_url, signing_keys, local_docker_registry):
    railway, github = providers
    env = provider_env(openbao, database_url, signing_keys, railway, github, local_docker_registry.host)
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        yield client


async def _everything_in_the_database(database_url: str) -> str:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = []
            for table in ("users", "secret_index", "audit_events", "environments"):
                rows += [str(tuple(r)) for r in await connection.execute(text(f"SELECT * FROM {table}"))]
            return "\n".join(rows)
    finally:
        await engine.dispose()


def _span_text(exporter: InMemorySpanExporter) -> str:
    parts = []
    for span in exporter.get_finished_spans():
        parts += [span.name, str(dict(span.attributes or {}))]
        parts += [f"{event.name} {dict(event.attributes or {})}" for event in span.events]
    return "\n".join(parts)


async def test_canaries_appear_only_where_they_are_returned_on_purpose(
    api, providers, spans, auth, database_url, caplog, local_docker_registry
):
    caplog.set_level(logging.DEBUG)
    railway, github = providers
    registry_user, registry_password = next(iter(REGISTRY_USERS.items()))
    github_token = github.add_token("ghp_", login="octo")
    railway_token = railway.add_account_token()
    env_value = f"env-canary-{uuid.uuid4().hex}"
    custom_value = f"custom-canary-{uuid.uuid4().hex}"
    canaries = [github_token, railway_token, registry_password, env_value, custom_value]
    incidental: list[str] = []
    on_purpose: list[str] = []

    async def call(method, path, *, expect, purpose=False, **kwargs):
        response = await api.request(method, path, headers=auth, **kwargs)
        assert response.status_code == expect, (method, path, response.text)
        (on_purpose if purpose else incidental).append(response.text)
        return response

    registry = local_docker_registry.host
    await call("POST", "/api/v1/secrets/railway", json={"token": railway_token}, expect=201)
    await call("GET", "/api/v1/secrets/railway/status", expect=200)
    await call("POST", "/api/v1/secrets/railway/validate", expect=200)
    await call("POST", "/api/v1/secrets/github", json={"token": github_token}, expect=201)
    await call("GET", "/api/v1/secrets/github/status", expect=200)
    await call(
        "POST",
        "/api/v1/secrets/docker",
        json={"registry": registry, "username": registry_user, "password": registry_password},
        expect=201,
    )
    await call("GET", "/api/v1/secrets/docker", expect=200)
    await call("GET", f"/api/v1/secrets/docker/{registry}", expect=200)
    await call("POST", f"/api/v1/secrets/docker/{registry}/test", expect=200)
    await call("POST", "/api/v1/environments/prod/secrets", json={"key": "API_KEY", "value": env_value}, expect=201)
    await call("GET", "/api/v1/environments/prod/secrets", expect=200)
    await call("POST", "/api/v1/secrets", json={"key": "planted", "value": custom_value}, expect=201)
    await call("GET", "/api/v1/secrets", expect=200)
    await call("GET", "/api/v1/secrets/planted/versions", expect=200)
    await call("GET", "/api/v1/secrets/audit", expect=200)
    await call("GET", "/api/v1/secrets/audit/export?format=csv", expect=200)
    await call("GET", "/api/v1/secrets/health", expect=200)
    # The value reads that return them on purpose.
    await call("GET", "/api/v1/secrets/planted", expect=200, purpose=True)
    await call("GET", "/api/v1/environments/prod/secrets/API_KEY", expect=200, purpose=True)
    # Failures that carry them.
    await call("POST", "/api/v1/secrets/railway", json={"token": f"{railway_token}-wrong"}, expect=422)
    await call("POST", "/api/v1/secrets/github", json={"token": f"{github_token}x"}, expect=422)
    await call("POST", "/api/v1/secrets", json={"key": "bad key", "value": custom_value}, expect=422)
    await call("POST", "/api/v1/environments/prod/secrets", json={"key": "1BAD", "value": env_value}, expect=422)
    await call("POST", "/api/v1/environments/prod/secrets/bulk", json={"dotenv": f"OK={env_value}\n9NO=x"}, expect=422)
    await call("POST", "/api/v1/secrets", json={"key": "planted", "value": custom_value, "cas": 0}, expect=409)
    await api.get("/api/v1/secrets", headers={"Authorization": f"Bearer {github_token}"})  # a token as a bearer

    assert custom_value in "".join(on_purpose) and env_value in "".join(on_purpose)
    metrics = (await api.get("/metrics")).text
    assert "vault_call_seconds" in metrics and "http_requests_total" in metrics
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    places = {
        "error and other bodies": "\n".join(incidental),
        "logs": logged,
        "spans": _span_text(spans),
        "metrics": metrics,
        "database rows (index, users, audit, environments)": await _everything_in_the_database(database_url),
    }
    assert "vault.read" in places["spans"] and places["logs"], "the test must have captured spans and logs"
    for canary in canaries:
        for place, content in places.items():
            assert canary not in content, f"a planted value leaked into {place}"
