"""The OpenAPI schema documents every endpoint with its request, response and problem shapes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.api


EXPECTED = {
    ("/api/v1/secrets", "post"),
    ("/api/v1/secrets", "get"),
    ("/api/v1/secrets/{key}", "get"),
    ("/api/v1/secrets/{key}", "delete"),
    ("/api/v1/secrets/{key}/versions", "get"),
    ("/api/v1/secrets/{key}/versions/{version}", "get"),
    ("/api/v1/secrets/{key}/rollback", "post"),
    ("/api/v1/secrets/{key}/metadata", "get"),
    ("/api/v1/secrets/{key}/metadata", "patch"),
    ("/api/v1/secrets/health", "get"),
    ("/healthz", "get"),
}


async def test_every_endpoint_is_documented_with_problem_responses(client):
    schema = (await client.get("/schema/openapi.json")).json()
    documented = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert documented >= EXPECTED
    for path, method in EXPECTED - {("/healthz", "get")}:
        responses = schema["paths"][path][method]["responses"]
        for status in ("401", "422", "503"):
            assert "application/problem+json" in responses[status]["content"], (path, method, status)
    create = schema["paths"]["/api/v1/secrets"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("SecretCreate")
    assert "ProblemDetail" in schema["components"]["schemas"]
