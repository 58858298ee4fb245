"""The served instance answers over real HTTP, with several workers, on the session's real servers."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_a_secret_written_through_one_connection_reads_back_through_another(served_instance):
    headers = served_instance.headers("served-alice")
    with httpx.Client(base_url=served_instance.url, headers=headers, timeout=10) as first:
        created = first.post("/api/v1/secrets", json={"key": "served-k", "value": "v1"})
        assert created.status_code == 201, created.text
    with httpx.Client(base_url=served_instance.url, headers=headers, timeout=10) as second:
        read = second.get("/api/v1/secrets/served-k")
    assert read.status_code == 200
    assert read.json()["value"] == "v1"


def test_a_request_without_a_token_is_refused(served_instance):
    answer = httpx.get(f"{served_instance.url}/api/v1/secrets", timeout=10)
    assert answer.status_code == 401
