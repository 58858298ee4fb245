"""The shared served instance (`mirage-secrets serve`, two workers) finds the build and serves /ui."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.csp import assert_strict_csp

pytestmark = pytest.mark.e2e


def test_the_served_instance_serves_the_page_and_its_assets(served_instance, built_ui):
    with httpx.Client(base_url=served_instance.url, timeout=10) as client:
        page = client.get("/ui")
        assert page.status_code == 200, page.text[:300]
        assert_strict_csp(page.headers["content-security-policy"])
        script = re.search(r'src="(/ui/assets/[^"]+\.js)"', page.text)
        assert script is not None
        asset = client.get(script.group(1))
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith("text/javascript")
        assert "immutable" in asset.headers["cache-control"]
