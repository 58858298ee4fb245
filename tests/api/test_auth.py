"""Every /api/v1 call needs a verified bearer JWT; failures are 401 problem details."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER

pytestmark = pytest.mark.api


def _foreign_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _claims(**overrides):
    now = int(time.time())
    claims = {"sub": "mallory", "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "iat": now, "exp": now + 600}
    claims.update(overrides)
    return claims


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("missing", None),
        ("not bearer", "Basic bWU6cGFzcw=="),
        ("empty bearer", "Bearer "),
        ("garbage", "Bearer not.a.jwt"),
    ],
)
async def test_requests_without_a_valid_bearer_token_get_401(client, name, header):
    headers = {"Authorization": header} if header else {}
    response = await client.get("/api/v1/secrets", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


@pytest.mark.parametrize(
    ("name", "overrides", "detail"),
    [
        ("expired", {"exp": int(time.time()) - 60}, "expired"),
        ("not yet valid", {"nbf": int(time.time()) + 600}, "not valid yet"),
        ("wrong issuer", {"iss": "https://evil.example"}, "another service"),
        ("wrong audience", {"aud": "another-api"}, "another service"),
        ("hostile subject", {"sub": "../alice"}, "subject"),
    ],
)
async def test_tokens_with_bad_claims_are_refused(client, signing_keys, name, overrides, detail):
    token = jwt.encode(_claims(**overrides), signing_keys[0].read_bytes(), algorithm="RS256")
    response = await client.get("/api/v1/secrets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert detail in response.json()["detail"]


async def test_a_token_signed_by_another_key_is_refused(client):
    token = jwt.encode(_claims(), _foreign_key_pem(), algorithm="RS256")
    response = await client.get("/api/v1/secrets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_health_and_schema_need_no_token(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/schema/openapi.json")).status_code == 200
