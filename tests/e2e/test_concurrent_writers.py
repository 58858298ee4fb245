"""Concurrent writers over real HTTP against a served instance with two workers.

Check-and-set writers racing on the same version: exactly one wins, every other one gets a 409
naming the version that won. Plain writers racing on one key: every write lands as its own
version (no lost update), and none gets a 409 that a retry would have turned into a success.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e

CAS_WRITERS = 100
PLAIN_WRITERS = 30


async def _race(url: str, headers: dict[str, str], bodies: list[dict]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as client:
        start = asyncio.Event()

        async def one(body: dict) -> httpx.Response:
            await start.wait()
            return await client.post("/api/v1/secrets", json=body)

        tasks = [asyncio.create_task(one(body)) for body in bodies]
        await asyncio.sleep(0)
        start.set()
        return await asyncio.gather(*tasks)


async def test_one_of_a_hundred_cas_writers_wins_and_the_rest_learn_the_winning_version(served_instance):
    headers = served_instance.headers(f"cas-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=served_instance.url, headers=headers, timeout=30) as client:
        assert (await client.post("/api/v1/secrets", json={"key": "raced", "value": "v1"})).status_code == 201
    answers = await _race(
        served_instance.url,
        headers,
        [{"key": "raced", "value": f"writer-{i}", "cas": 1} for i in range(CAS_WRITERS)],
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (CAS_WRITERS - 1), statuses
    winner = next(a for a in answers if a.status_code == 201)
    assert winner.json()["version"] == 2
    for loser in (a for a in answers if a.status_code == 409):
        problem = loser.json()
        assert loser.headers["content-type"].startswith("application/problem+json")
        assert problem["current_version"] == 2, problem
    async with httpx.AsyncClient(base_url=served_instance.url, headers=headers, timeout=30) as client:
        read = (await client.get("/api/v1/secrets/raced")).json()
    assert read["version"] == 2
    assert read["value"] == json.loads(winner.request.content)["value"]


async def test_plain_writers_on_one_key_all_land_and_none_gets_a_409(served_instance):
    headers = served_instance.headers(f"plain-{uuid.uuid4().hex[:8]}")
    answers = await _race(
        served_instance.url, headers, [{"key": "hot", "value": f"writer-{i}"} for i in range(PLAIN_WRITERS)]
    )
    assert [a.status_code for a in answers] == [201] * PLAIN_WRITERS, [a.text for a in answers if a.status_code != 201]
    versions = sorted(a.json()["version"] for a in answers)
    assert versions == list(range(1, PLAIN_WRITERS + 1))  # each write its own version: none lost
    async with httpx.AsyncClient(base_url=served_instance.url, headers=headers, timeout=30) as client:
        read = (await client.get("/api/v1/secrets/hot")).json()
        listed = (await client.get("/api/v1/secrets")).json()["secrets"]
    last = next(a for a in answers if a.json()["version"] == PLAIN_WRITERS)
    assert read["version"] == PLAIN_WRITERS
    assert read["value"] == json.loads(last.request.content)["value"]
    assert [(s["key"], s["version"]) for s in listed] == [("hot", PLAIN_WRITERS)]
