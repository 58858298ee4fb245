"""The audit API: one event per operation, filters, keyset pages, isolation, exports, auth failures.

Events are read back through the HTTP API (the app's container lives in the test client's own
thread and event loop, so container objects are never awaited from here). Every audit query is
itself audited (`audit_read`), so each test looks at events by request id or by action.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.api


AUDIT = "/api/v1/secrets/audit"
SECRETS = "/api/v1/secrets"
TEST_CLIENT_IP = "testclient"  # Litestar's test transport puts ("testclient", 50000) in the scope


def rid() -> str:
    return f"req-{uuid.uuid4().hex[:16]}"


async def trail(client, headers, **params) -> list[dict]:
    """Every page of the caller's trail matching `params`, newest first."""
    logs, cursor = [], None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(AUDIT, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        logs.extend(body["logs"])
        cursor = body["next_cursor"]
        if cursor is None:
            return logs


async def call(client, method: str, url: str, auth, *, status: int, **kwargs):
    """Send one request with a fresh X-Request-ID; check the status and the echoed header."""
    request_id = rid()
    response = await client.request(method, url, headers={**auth, "X-Request-ID": request_id}, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"] == request_id
    return request_id, response


async def events_of(client, auth, request_id: str) -> list[dict]:
    return [e for e in await trail(client, auth) if e["request_id"] == request_id]


# (name, method, url, json, status, action, outcome, secret, version)
OPERATIONS = [
    ("create", "POST", SECRETS, {"key": "k", "value": "v1-canary"}, 201, "create", "success", "k", 1),
    ("update", "POST", SECRETS, {"key": "k", "value": "v2-canary"}, 201, "update", "success", "k", 2),
    ("read", "GET", f"{SECRETS}/k", None, 200, "read", "success", "k", 2),
    ("read_version", "GET", f"{SECRETS}/k/versions/1", None, 200, "read_version", "success", "k", 1),
    ("list", "GET", SECRETS, None, 200, "list", "success", None, None),
    ("versions", "GET", f"{SECRETS}/k/versions", None, 200, "list", "success", "k", None),
    ("rollback", "POST", f"{SECRETS}/k/rollback", {"to_version": 1}, 201, "rollback", "success", "k", 3),
    ("metadata read", "GET", f"{SECRETS}/k/metadata", None, 200, "metadata_read", "success", "k", 3),
    (
        "metadata update",
        "PATCH",
        f"{SECRETS}/k/metadata",
        {"tags": ["prod"]},
        200,
        "metadata_update",
        "success",
        "k",
        None,
    ),
    ("delete", "DELETE", f"{SECRETS}/k", None, 200, "delete", "success", "k", None),
    ("404 read", "GET", f"{SECRETS}/missing", None, 404, "read", "not_found", "missing", None),
    (
        "409 cas conflict",
        "POST",
        SECRETS,
        {"key": "taken", "value": "x", "cas": 0},
        409,
        "update",
        "conflict",
        "taken",
        None,
    ),
    # A refused key is recorded marked, never as if it were a key.
    (
        "422 bad key",
        "POST",
        SECRETS,
        {"key": "bad key!", "value": "x"},
        422,
        "update",
        "invalid",
        "invalid:'bad key!'",
        None,
    ),
]


async def test_every_operation_leaves_exactly_one_event(client, auth, user):
    await call(client, "POST", SECRETS, auth, status=201, json={"key": "taken", "value": "x"})
    for name, method, url, body, status, action, outcome, secret, version in OPERATIONS:
        request_id, _ = await call(client, method, url, auth, status=status, **({"json": body} if body else {}))
        events = await events_of(client, auth, request_id)
        mine = [e for e in events if e["action"] == action]
        assert len(mine) == 1, (name, events)
        event = mine[0]
        assert (event["outcome"], event["secret"], event["version"]) == (outcome, secret, version), (name, event)
        assert (event["user_id"], event["actor"], event["actor_is_admin"]) == (user, user, False), name
        assert event["ip"] == TEST_CLIENT_IP and event["user_agent"], name
        assert event["timestamp"] and event["id"] > 0
        if outcome != "success":
            assert event["reason"], name
        assert len(events) == 1, (name, events)
    everything = json.dumps(await trail(client, auth))
    assert "canary" not in everything


async def test_filters(client, auth):
    for key in ("alpha", "beta"):
        await call(client, "POST", SECRETS, auth, status=201, json={"key": key, "value": "x"})
    middle = datetime.now(UTC)
    await call(client, "GET", f"{SECRETS}/alpha", auth, status=200)
    await call(client, "GET", f"{SECRETS}/missing", auth, status=404)
    after = datetime.now(UTC)

    alpha = await trail(client, auth, secret_key="alpha")
    assert {e["secret"] for e in alpha} == {"alpha"}
    assert [e["action"] for e in alpha if e["action"] != "audit_read"] == ["read", "create"]

    reads = await trail(client, auth, action="read")
    assert [(e["secret"], e["outcome"]) for e in reads] == [("missing", "not_found"), ("alpha", "success")]
    assert [e["secret"] for e in await trail(client, auth, outcome="not_found")] == ["missing"]
    assert [e["secret"] for e in await trail(client, auth, action="create", outcome="success")] == ["beta", "alpha"]

    since = await trail(client, auth, start_date=middle.isoformat(), action="read")
    assert [e["secret"] for e in since] == ["missing", "alpha"]
    before = await trail(client, auth, end_date=middle.isoformat())
    assert {e["action"] for e in before} == {"create"}
    assert await trail(client, auth, start_date=after.isoformat(), action="read") == []
    # A bare date: end_date includes that whole day.
    today = datetime.now(UTC).date().isoformat()
    assert len(await trail(client, auth, start_date=today, end_date=today, action="create")) == 2
    for event in since:
        assert middle <= datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")) < after


async def test_keyset_pages_have_no_duplicates_or_gaps(client, auth):
    await call(client, "POST", SECRETS, auth, status=201, json={"key": "paged", "value": "x"})
    for _ in range(11):
        await call(client, "GET", f"{SECRETS}/paged", auth, status=200)
    everything = await trail(client, auth, action="read")
    assert len(everything) == 11

    pages, cursor = [], None
    while True:
        params = {"action": "read", "limit": 4, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(AUDIT, params=params, headers=auth)).json()
        pages.append([e["id"] for e in body["logs"]])
        # More events are appended between pages (each page is audited): they never show up.
        await call(client, "GET", f"{SECRETS}/paged", auth, status=200)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [4, 4, 3]
    ids = [i for page in pages for i in page]
    assert ids == [e["id"] for e in everything]  # same events, same order, no duplicates, no gaps
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"action": "explode"}, 422, "action"),
        ({"outcome": "meh"}, 422, "outcome"),
        ({"start_date": "yesterday"}, 422, "start_date"),
        ({"end_date": "2024-13-01"}, 422, "end_date"),
        ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, 422, "start_date"),
        ({"cursor": "not-a-cursor"}, 422, "cursor"),
        ({"cursor": "!!!"}, 422, "cursor"),
        ({"limit": 0}, 400, "limit"),  # out of the declared range: Litestar's parameter validation
        ({"limit": 501}, 400, "limit"),
        ({"limit": "ten"}, 400, "limit"),
    ],
)
async def test_invalid_filters_are_refused(client, auth, params, status, field):
    response = await client.get(AUDIT, params=params, headers=auth)
    assert response.status_code == status, response.text
    assert field in response.text


async def test_a_user_never_sees_another_users_events(client, user, token_for):
    alice = {"Authorization": f"Bearer {token_for(user + '_a')}"}
    bob = {"Authorization": f"Bearer {token_for(user + '_b')}"}
    await call(client, "POST", SECRETS, alice, status=201, json={"key": "alice-only", "value": "x"})
    await call(client, "GET", f"{SECRETS}/alice-only", alice, status=200)
    await call(client, "GET", f"{SECRETS}/alice-only", bob, status=404)  # bob's own namespace

    assert {e["user_id"] for e in await trail(client, bob)} == {user + "_b"}
    assert all(e["actor"] == user + "_b" for e in await trail(client, bob, secret_key="alice-only"))
    alices = await trail(client, alice, secret_key="alice-only")
    assert {(e["action"], e["actor"]) for e in alices if e["action"] != "audit_read"} == {
        ("create", user + "_a"),
        ("read", user + "_a"),
    }

    forbidden = await client.get(AUDIT, params={"user_id": user + "_a"}, headers=bob)
    assert forbidden.status_code == 403
    assert "alice-only" not in forbidden.text
    export = await client.get(f"{AUDIT}/export", params={"user_id": user + "_a"}, headers=bob)
    assert export.status_code == 403
    # The refused attempt is on alice's record, naming bob.
    attempts = await trail(client, alice, action="audit_read", outcome="denied")
    assert [(e["actor"], e["user_id"]) for e in attempts] == [(user + "_b", user + "_a")]


async def test_an_admin_reads_another_users_trail_and_that_is_recorded(client, auth, user, token_for):
    admin_id = f"admin_{uuid.uuid4().hex[:8]}"
    admin = {"Authorization": f"Bearer {token_for(admin_id, admin=True)}"}
    await call(client, "POST", SECRETS, auth, status=201, json={"key": "watched", "value": "x"})
    request_id, response = await call(client, "GET", AUDIT, admin, status=200, params={"user_id": user})
    logs = response.json()["logs"]
    assert [(e["action"], e["secret"]) for e in logs] == [("create", "watched")]

    recorded = [e for e in await trail(client, auth, action="audit_read") if e["request_id"] == request_id]
    assert len(recorded) == 1
    event = recorded[0]
    assert (event["actor"], event["actor_is_admin"], event["user_id"], event["outcome"]) == (
        admin_id,
        True,
        user,
        "success",
    )
    # And the admin's own trail holds nothing about it (the subject is the user).
    assert all(e["request_id"] != request_id for e in await trail(client, admin))


async def test_exports_hold_the_events_and_no_values(client, auth, user):
    canary = f"export-canary-{uuid.uuid4().hex}"
    create_id, _ = await call(client, "POST", SECRETS, auth, status=201, json={"key": "exported", "value": canary})
    read_id, read = await call(client, "GET", f"{SECRETS}/exported", auth, status=200)
    assert read.json()["value"] == canary

    ndjson = await client.get(f"{AUDIT}/export", params={"format": "ndjson"}, headers=auth)
    assert ndjson.status_code == 200 and ndjson.headers["content-type"].startswith("application/x-ndjson")
    assert canary not in ndjson.text
    rows = [json.loads(line) for line in ndjson.text.splitlines()]
    by_request = {r["request_id"]: r for r in rows}
    assert (by_request[create_id]["action"], by_request[create_id]["version"]) == ("create", 1)
    assert (by_request[read_id]["action"], by_request[read_id]["secret"]) == ("read", "exported")
    assert {r["user_id"] for r in rows} == {user}
    assert all("value" not in r for r in rows)

    exported_csv = await client.get(
        f"{AUDIT}/export", params={"format": "csv", "start_date": datetime.now(UTC).date().isoformat()}, headers=auth
    )
    assert exported_csv.status_code == 200 and exported_csv.headers["content-type"].startswith("text/csv")
    assert canary not in exported_csv.text
    table = list(csv.DictReader(io.StringIO(exported_csv.text)))
    assert "value" not in table[0]
    assert {"action", "secret", "timestamp", "ip", "outcome", "version", "request_id"} <= set(table[0])
    csv_by_request = {r["request_id"]: r for r in table}
    assert csv_by_request[read_id]["action"] == "read" and csv_by_request[read_id]["ip"] == TEST_CLIENT_IP
    assert csv_by_request[create_id]["version"] == "1"

    # A range with nothing in it is a header only; the export itself is on record.
    empty = await client.get(f"{AUDIT}/export", params={"format": "csv", "end_date": "2000-01-01"}, headers=auth)
    assert len(empty.text.strip().splitlines()) == 1
    assert len(await trail(client, auth, action="audit_export")) == 3
    assert (await client.get(f"{AUDIT}/export", params={"format": "xml"}, headers=auth)).status_code == 400


async def test_last_accessed_at_follows_reads(client, auth):
    await call(client, "POST", SECRETS, auth, status=201, json={"key": "touched", "value": "x"})
    await call(client, "POST", SECRETS, auth, status=201, json={"key": "untouched", "value": "x"})

    def accessed(listing) -> dict:
        return {s["key"]: s["last_accessed_at"] for s in listing.json()["secrets"]}

    assert accessed((await call(client, "GET", SECRETS, auth, status=200))[1]) == {"touched": None, "untouched": None}
    before = datetime.now(UTC)
    await call(client, "GET", f"{SECRETS}/touched", auth, status=200)
    after = accessed((await call(client, "GET", SECRETS, auth, status=200))[1])
    assert after["untouched"] is None
    assert after["touched"] is not None
    assert datetime.fromisoformat(after["touched"].replace("Z", "+00:00")) >= before
    # A failed read is not an access.
    await call(client, "GET", f"{SECRETS}/untouched/versions/9", auth, status=404)
    assert accessed((await call(client, "GET", SECRETS, auth, status=200))[1])["untouched"] is None


async def test_a_failed_bearer_token_is_an_auth_failed_event(client, token_for):
    request_id = rid()
    refused = await client.get(
        SECRETS, headers={"Authorization": "Bearer not.a.jwt", "X-Request-ID": request_id, "User-Agent": "probe/1"}
    )
    assert refused.status_code == 401
    assert refused.headers["x-request-id"] == request_id

    admin = {"Authorization": f"Bearer {token_for(f'admin_{uuid.uuid4().hex[:8]}', admin=True)}"}
    failures = await trail(client, admin, user_id="anonymous", action="auth_failed")
    mine = [e for e in failures if e["request_id"] == request_id]
    assert len(mine) == 1
    event = mine[0]
    assert (event["actor"], event["user_id"], event["outcome"]) == ("anonymous", "anonymous", "denied")
    assert (event["ip"], event["user_agent"]) == (TEST_CLIENT_IP, "probe/1")
    assert event["reason"] and "not.a.jwt" not in json.dumps(event)


FORMULA_KEYS = ["=cmd|' /C calc'!A0", "@SUM(A1)", "+1+1", "-2-2", "\tindent", "\rreturn"]


async def test_refused_formula_keys_are_recorded_marked_and_exported_as_inert_csv(client, auth):
    refused_ids = []
    for key in FORMULA_KEYS:
        request_id, _ = await call(client, "POST", SECRETS, auth, status=422, json={"key": key, "value": "x"})
        refused_ids.append(request_id)
        (recorded,) = await events_of(client, auth, request_id)
        assert recorded["outcome"] == "invalid"
        assert recorded["secret"] == "invalid:" + ascii(key), recorded

    exported = await client.get(
        f"{AUDIT}/export", params={"format": "csv", "start_date": datetime.now(UTC).date().isoformat()}, headers=auth
    )
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert len(rows) > len(FORMULA_KEYS)
    dangerous = [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == []
    by_request = {row[rows[0].index("request_id")]: row for row in rows[1:]}
    secrets_column = rows[0].index("secret")
    assert [by_request[r][secrets_column] for r in refused_ids] == ["invalid:" + ascii(k) for k in FORMULA_KEYS]
