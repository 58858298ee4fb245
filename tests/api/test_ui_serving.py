"""`/ui`: the built page with its caching and CSP headers, a clear 503 without a build, and the
development sign-in that only development mode has."""

from __future__ import annotations

import json
import re

import jwt
import pytest
from litestar.testing import AsyncTestClient

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER
from entrypoints.http.app import create_app
from entrypoints.http.openapi_dump import openapi_schema_json
from entrypoints.settings import DEFAULT_UI_DIST_DIR, SettingsError, load_settings
from tests.support.csp import assert_strict_csp
from tests.support.env import api_env

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def env(openbao, database_url, signing_keys) -> dict[str, str]:
    return api_env(openbao, database_url, signing_keys[1])


@pytest.fixture(scope="module")
def built() -> None:
    if not (DEFAULT_UI_DIST_DIR / "index.html").is_file():
        pytest.fail(f"the web UI is not built at {DEFAULT_UI_DIST_DIR}: run `make install`")


async def test_the_page_is_never_cached_its_assets_forever_and_both_carry_the_csp(client, built):
    page = await client.get("/ui")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert_strict_csp(page.headers["content-security-policy"])
    html = page.text
    assert "<script>" not in html and "<style" not in html and " style=" not in html  # nothing inline
    assets = re.findall(r'(?:src|href)="(/ui/assets/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)  # no third-party origin, no CDN
    for asset in assets:
        answer = await client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert_strict_csp(answer.headers["content-security-policy"])
    assert (await client.get("/ui/")).status_code == 200


async def test_unknown_and_traversing_asset_names_are_404(client, built):
    for name in ("nope-12345678.js", "..%2F..%2Fsettings.py", "index.html", "x.txt"):
        answer = await client.get(f"/ui/assets/{name}")
        assert answer.status_code == 404, name
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_without_a_build_the_page_is_a_503_that_says_to_run_make_install(env, tmp_path):
    settings = load_settings({**env, "UI_DIST_DIR": str(tmp_path / "missing")})
    async with AsyncTestClient(app=create_app(settings=settings)) as client:
        answer = await client.get("/ui")
    assert answer.status_code == 503
    assert "make install" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert_strict_csp(answer.headers["content-security-policy"])


async def test_the_development_sign_in_does_not_exist_outside_development_mode(client):
    assert (await client.get("/ui/dev-session")).status_code == 404
    assert (await client.post("/ui/dev-session")).status_code == 404
    assert (await client.post("/ui/dev-session?admin=true")).status_code == 404


def test_production_settings_cannot_carry_a_development_signing_key(env, signing_keys):
    with pytest.raises(SettingsError):
        load_settings(env, dev_signing_key_file=signing_keys[0])


async def test_in_development_mode_it_mints_the_token_dev_token_prints(env, signing_keys):
    settings = load_settings(env, dev_mode=True, dev_signing_key_file=signing_keys[0])
    async with AsyncTestClient(app=create_app(settings=settings)) as client:
        assert (await client.get("/ui/dev-session")).json() == {"subject": "dev-user"}
        minted = await client.post("/ui/dev-session?admin=true")
        assert minted.status_code == 200
        assert minted.headers["cache-control"] == "no-store"
        token = minted.json()["token"]
        claims = jwt.decode(token, signing_keys[1].read_bytes(), algorithms=["RS256"], audience=DEV_AUDIENCE)
        assert claims["sub"] == "dev-user" and claims["iss"] == DEV_ISSUER and claims["roles"] == ["admin"]
        plain = jwt.decode(
            (await client.post("/ui/dev-session")).json()["token"],
            signing_keys[1].read_bytes(),
            algorithms=["RS256"],
            audience=DEV_AUDIENCE,
        )
        assert plain["roles"] == []
        listed = await client.get("/api/v1/secrets", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200  # the API accepts it like any other token


async def test_the_schema_dump_the_web_types_come_from_is_what_the_service_serves(client):
    served = (await client.get("/schema/openapi.json")).json()
    assert json.loads(openapi_schema_json()) == served
