"""Rate limits over real HTTP, counted in Redis and shared by the two workers of a served instance."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.served import serve_with_provider_fakes

pytestmark = pytest.mark.e2e

PROVIDER_BUDGET = 3
FAILED_AUTH_BUDGET = 4


@pytest.fixture(scope="module")
def limited_instance(openbao, pg_url, signing_keys, tmp_path_factory):
    with serve_with_provider_fakes(
        openbao=openbao,
        database_url=pg_url,
        signing_keys=signing_keys,
        log_dir=tmp_path_factory.mktemp("limited"),
        extra_env={
            "RATE_LIMIT_PROVIDER_CALLS": f"{PROVIDER_BUDGET}/hour",
            "RATE_LIMIT_FAILED_AUTH": f"{FAILED_AUTH_BUDGET}/hour",
            "RATE_LIMIT_KEY_PREFIX": f"test:{uuid.uuid4().hex}:rl:",
        },
    ) as (instance, railway, _github):
        yield instance, railway


def _fresh_connection_post(url: str, path: str, **kwargs) -> httpx.Response:
    # A new connection each time, so the two workers share the requests between them.
    with httpx.Client(base_url=url, timeout=10) as client:
        return client.post(path, **kwargs)


def test_provider_calls_are_limited_per_user_across_both_workers(limited_instance):
    instance, railway = limited_instance
    headers = instance.headers(f"rl-{uuid.uuid4().hex[:8]}")
    answers = [
        _fresh_connection_post(
            instance.url, "/api/v1/secrets/railway", json={"token": "not-a-known-token"}, headers=headers
        )
        for _ in range(PROVIDER_BUDGET * 3)
    ]
    statuses = [a.status_code for a in answers]
    assert statuses[:PROVIDER_BUDGET] == [422] * PROVIDER_BUDGET, statuses  # Railway said no: budget spent
    assert statuses[PROVIDER_BUDGET:] == [429] * (PROVIDER_BUDGET * 2), statuses
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/rate-limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    reached_railway = len(railway.graphql_requests())
    # Another user has a budget of their own.
    other = instance.headers(f"rl-{uuid.uuid4().hex[:8]}")
    answer = _fresh_connection_post(instance.url, "/api/v1/secrets/railway", json={"token": "x"}, headers=other)
    assert answer.status_code == 422
    per_validation = len(railway.graphql_requests()) - reached_railway
    # The refused calls never reached Railway: only the budgeted ones did.
    assert per_validation >= 1 and reached_railway == PROVIDER_BUDGET * per_validation


def test_an_invalid_body_spends_no_budget(limited_instance):
    instance, _ = limited_instance
    headers = instance.headers(f"rl-{uuid.uuid4().hex[:8]}")
    for _ in range(PROVIDER_BUDGET * 2):
        answer = _fresh_connection_post(instance.url, "/api/v1/secrets/github", json={"token": 1}, headers=headers)
        assert answer.status_code == 400


def test_failed_authentication_is_limited_per_address_across_both_workers(limited_instance):
    instance, _ = limited_instance
    bad = {"Authorization": "Bearer not.a.token"}
    statuses = []
    for _ in range(FAILED_AUTH_BUDGET + 2 * 2):  # a worker learns of the block at its next failure
        with httpx.Client(base_url=instance.url, timeout=10) as client:
            statuses.append(client.get("/api/v1/secrets", headers=bad).status_code)
    assert statuses[:FAILED_AUTH_BUDGET] == [401] * FAILED_AUTH_BUDGET, statuses
    assert statuses[-2:] == [429, 429], statuses
    assert set(statuses) == {401, 429} and statuses.count(401) <= FAILED_AUTH_BUDGET + 2, statuses
    # Once blocked, the address gets 429 even with a valid token: guessing tokens gains nothing.
    with httpx.Client(base_url=instance.url, timeout=10) as client:
        for _ in range(4):
            answer = client.get("/api/v1/secrets", headers=instance.headers("rl-valid"))
            if answer.status_code == 429:
                break
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
