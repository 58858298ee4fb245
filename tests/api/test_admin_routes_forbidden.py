"""Every admin route refuses a non-admin with 403, and the admin surface is found from the app itself,
so a route added later is covered without a new test."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.api

ADMIN_PREFIX = "/api/v1/admin"
# Admin abilities reached through a user route: naming another user's data.
ADMIN_QUERIES = [
    ("GET", "/api/v1/secrets/audit?user_id={other}"),
    ("GET", "/api/v1/secrets/audit/export?user_id={other}"),
]


def admin_routes(app) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not route.path.startswith(ADMIN_PREFIX):
            continue
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: "someone" if m.group(1) == "user_id" else "db", route.path)
        found += [
            (method, path) for method in sorted(getattr(route, "methods", ())) if method not in ("HEAD", "OPTIONS")
        ]
    return found


async def test_every_admin_route_refuses_a_non_admin(client, auth, user):
    routes = admin_routes(client.app)
    assert {("GET", f"{ADMIN_PREFIX}/migration-status"), ("DELETE", f"{ADMIN_PREFIX}/users/someone/secrets/db")} <= set(
        routes
    ), routes
    for method, path in [*routes, *((m, p.format(other=user + "_other")) for m, p in ADMIN_QUERIES)]:
        response = await client.request(method, path, headers=auth)
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), (method, path)
