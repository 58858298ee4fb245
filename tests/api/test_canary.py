"""Invariants 1 and 4: a planted value shows up only in the responses that return it on purpose."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from domain.secrets import MAX_VALUE_BYTES

pytestmark = pytest.mark.api


async def _database_dump(database_url: str) -> str:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = []
            for table in ("users", "secret_index"):
                rows += [str(tuple(row)) for row in await connection.execute(text(f"SELECT * FROM {table}"))]
            return "\n".join(rows)
    finally:
        await engine.dispose()


async def test_canary_value_never_leaks(client, container, auth, database_url, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    canary = f"canary-{uuid.uuid4().hex}"
    incidental: list[str] = []  # every response body that must not carry the value

    async def call(method, path, **kwargs):
        response = await client.request(method, path, headers=auth, **kwargs)
        return response

    # Successful operations that do not return the value.
    for method, path, kwargs in [
        ("POST", "/api/v1/secrets", {"json": {"key": "canary", "value": canary, "tags": ["t"]}}),
        ("POST", "/api/v1/secrets", {"json": {"key": "canary", "value": canary + "-2"}}),
        ("GET", "/api/v1/secrets", {}),
        ("GET", "/api/v1/secrets/canary/versions", {}),
        ("GET", "/api/v1/secrets/canary/metadata", {}),
        ("PATCH", "/api/v1/secrets/canary/metadata", {"json": {"description": "planted"}}),
        ("POST", "/api/v1/secrets/canary/rollback", {"json": {"to_version": 1}}),
    ]:
        response = await call(method, path, **kwargs)
        assert response.status_code < 300, response.text
        incidental.append(response.text)

    # The responses that return it on purpose do.
    assert (await call("GET", "/api/v1/secrets/canary")).json()["value"] == canary
    assert (await call("GET", "/api/v1/secrets/canary/versions/2")).json()["value"] == canary + "-2"

    # Failing requests that carry the value.
    for method, path, kwargs, status in [
        ("POST", "/api/v1/secrets", {"json": {"key": "bad key", "value": canary}}, 422),
        ("POST", "/api/v1/secrets", {"json": {"key": "railway", "value": canary}}, 422),
        ("POST", "/api/v1/secrets", {"json": {"key": "k", "value": canary, "extra": canary}}, 400),
        ("POST", "/api/v1/secrets", {"json": {"key": "k", "value": [canary]}}, 400),
        ("POST", "/api/v1/secrets", {"json": {"key": "canary", "value": canary, "cas": 1}}, 409),
        (
            "POST",
            "/api/v1/secrets",
            {"json": {"key": "k", "value": canary * (MAX_VALUE_BYTES // len(canary) + 1)}},
            413,
        ),
        (
            "POST",
            "/api/v1/secrets",
            {"content": b'{"key":"k","value":"' + canary.encode(), "headers": {"content-type": "application/json"}},
            400,
        ),
    ]:
        headers = {**auth, **kwargs.pop("headers", {})}
        response = await client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == status, (kwargs, response.text)
        incidental.append(response.text)

    # An unexpected failure whose message quotes the value.
    async def explode(*args, **kwargs):
        raise RuntimeError(f"driver said: {canary}")

    monkeypatch.setattr(container.secrets, "list", explode)
    response = await call("GET", "/api/v1/secrets")
    assert response.status_code == 500
    incidental.append(response.text)

    for body in incidental:
        assert canary not in body
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.stack_info or ''}" for record in caplog.records
    )
    assert logged, "the test must have captured the service's logs"
    assert canary not in logged
    assert canary not in await _database_dump(database_url)
    assert canary not in repr(container.settings)
