"""Railway GraphQL adapter against a local server that speaks Railway's wire format."""

from __future__ import annotations

import uuid

import httpx
import pytest

from adapters.providers.railway import RailwayGraphQLClient, RailwayGraphQLTokenValidator
from domain.providers import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from domain.values import SecretValue
from tests.support.ports import free_port
from tests.support.providers import FakeRailway, Reply

pytestmark = pytest.mark.integration


TIMEOUT_S = 0.5


def _validator(railway: FakeRailway, http: httpx.AsyncClient) -> RailwayGraphQLTokenValidator:
    return RailwayGraphQLTokenValidator(railway.endpoint, http)


def _assert_no_leak(token: str, capture, *texts: str) -> None:
    assert token not in capture.text
    for text in texts:
        assert token not in text


async def test_account_token_is_recognised_by_me(fake_railway, http, capture):
    token = fake_railway.add_account_token(name="Ada", email="ada@example.com")

    info = await _validator(fake_railway, http).validate(SecretValue(token))

    assert info.kind == "account"
    assert info.account_name == "Ada" and info.account_email == "ada@example.com"
    assert info.account_id == fake_railway.account_tokens[token].id
    assert "variables:write" in info.permissions
    (sent,) = fake_railway.graphql_requests()
    assert sent.method == "POST"
    assert sent.header("authorization") == f"Bearer {token}"
    assert sent.header("project-access-token") is None
    assert sent.header("content-type") == "application/json"
    assert sent.json() == {"query": "query { me { id name email } }"}
    assert "HTTP Request: POST" in capture.text  # the capture sees httpx's own log lines
    _assert_no_leak(token, capture, repr(info))


async def test_workspace_token_falls_back_to_projects(fake_railway, http, capture):
    project_id = str(uuid.uuid4())
    token = fake_railway.add_workspace_token([{"id": project_id, "name": "mirage"}])

    info = await _validator(fake_railway, http).validate(SecretValue(token))

    assert info.kind == "workspace"
    assert info.project_ids == (project_id,)
    assert info.account_id is None
    queries = [r.json()["query"] for r in fake_railway.graphql_requests()]
    assert "me" in queries[0] and "projects" in queries[1] and len(queries) == 2
    assert all(r.header("authorization") == f"Bearer {token}" for r in fake_railway.graphql_requests())
    _assert_no_leak(token, capture)


async def test_project_token_uses_project_access_token_header(fake_railway, http, capture):
    project_id, environment_id = str(uuid.uuid4()), str(uuid.uuid4())
    token = fake_railway.add_project_token(project_id, environment_id)

    info = await _validator(fake_railway, http).validate(SecretValue(token))

    assert info.kind == "project"
    assert (info.project_id, info.environment_id) == (project_id, environment_id)
    assert info.permissions == ("variables:read", "variables:write")
    last = fake_railway.graphql_requests()[-1]
    assert last.header("project-access-token") == token
    assert last.header("authorization") is None
    assert "projectToken" in last.json()["query"]
    _assert_no_leak(token, capture)


@pytest.mark.parametrize("status", [200, 401])
async def test_unknown_token_is_rejected_with_what_railway_answered(fake_railway, http, capture, status):
    fake_railway.unauthorized_status = status
    token = str(uuid.uuid4())

    with pytest.raises(ProviderRejected) as caught:
        await _validator(fake_railway, http).validate(SecretValue(token))

    message = str(caught.value)
    assert message.startswith("Railway answered: Not Authorized")
    assert "Project Token not found" in message
    assert caught.value.provider == "railway"
    assert len(fake_railway.graphql_requests()) == 3  # me, projects, projectToken
    _assert_no_leak(token, capture, message, repr(caught.value))


async def test_railway_echoing_the_token_never_reaches_the_message(fake_railway, http, capture):
    token = str(uuid.uuid4())
    echo = Reply(200, {"data": None, "errors": [{"message": f"Invalid token {token}"}]})
    fake_railway.queue(echo, echo, echo)

    with pytest.raises(ProviderRejected) as caught:
        await _validator(fake_railway, http).validate(SecretValue(token))

    assert "Invalid token ********" in str(caught.value)
    _assert_no_leak(token, capture, str(caught.value))


async def test_429_is_rate_limited_with_retry_after(fake_railway, http):
    token = fake_railway.add_account_token()
    fake_railway.rate_limit(retry_after=42)

    with pytest.raises(ProviderRateLimited) as caught:
        await _validator(fake_railway, http).validate(SecretValue(token))

    assert caught.value.retry_after == 42
    assert len(fake_railway.graphql_requests()) == 1  # honoured: no second form tried


async def test_5xx_is_unavailable(fake_railway, http):
    fake_railway.queue(Reply(503, "upstream connect error", {"Retry-After": "5"}))

    with pytest.raises(ProviderUnavailable) as caught:
        await _validator(fake_railway, http).validate(SecretValue(str(uuid.uuid4())))

    assert caught.value.retry_after == 5
    assert "HTTP 503" in str(caught.value)


async def test_non_json_200_is_unavailable_not_a_rejection(fake_railway, http):
    fake_railway.queue(Reply(200, "<html>maintenance</html>"))

    with pytest.raises(ProviderUnavailable):
        await _validator(fake_railway, http).validate(SecretValue(str(uuid.uuid4())))


async def test_slow_answer_times_out_as_unavailable(fake_railway, http, capture):
    token = fake_railway.add_account_token()
    fake_railway.delay_seconds = TIMEOUT_S * 4

    with pytest.raises(ProviderUnavailable) as caught:
        await _validator(fake_railway, http).validate(SecretValue(token))

    assert "timed out" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    _assert_no_leak(token, capture)


async def test_nothing_listening_is_unavailable(http):
    endpoint = f"http://127.0.0.1:{free_port()}/graphql/v2"

    with pytest.raises(ProviderUnavailable) as caught:
        await RailwayGraphQLTokenValidator(endpoint, http).validate(SecretValue(str(uuid.uuid4())))

    assert caught.value.retry_after is None


# -- the per-user client (RailwayApi) ----------------------------------------------------------


async def test_upsert_then_read_variables_with_an_account_token(fake_railway, http, capture):
    token = fake_railway.add_account_token()
    client = RailwayGraphQLClient(fake_railway.endpoint, SecretValue(token), http=http)
    project, env, service = "p-1", "e-1", "s-1"

    await client.upsert_variables(project, env, service, {"API_KEY": SecretValue("v-one"), "DEBUG": SecretValue("0")})
    await client.upsert_variables(project, env, service, {"DEBUG": SecretValue("1")})

    assert fake_railway.variables[(project, env, service)] == {"API_KEY": "v-one", "DEBUG": "1"}
    got = await client.get_variables(project, env, service)
    assert got == {"API_KEY": SecretValue("v-one"), "DEBUG": SecretValue("1")}
    assert all(isinstance(value, SecretValue) for value in got.values())

    upsert = fake_railway.graphql_requests()[0].json()
    assert "variableCollectionUpsert(input: $input)" in upsert["query"]
    assert upsert["variables"] == {
        "input": {
            "projectId": project,
            "environmentId": env,
            "serviceId": service,
            "variables": {"API_KEY": "v-one", "DEBUG": "0"},
        }
    }
    read = fake_railway.graphql_requests()[-1].json()
    assert read["variables"] == {"projectId": project, "environmentId": env, "serviceId": service}
    assert "v-one" not in capture.text
    _assert_no_leak(token, capture)


async def test_replace_drops_variables_not_listed(fake_railway, http):
    token = fake_railway.add_account_token()
    client = RailwayGraphQLClient(fake_railway.endpoint, SecretValue(token), http=http)
    await client.upsert_variables("p", "e", None, {"A": SecretValue("1"), "B": SecretValue("2")})

    await client.upsert_variables("p", "e", None, {"B": SecretValue("3")}, replace=True)

    assert fake_railway.variables[("p", "e", None)] == {"B": "3"}
    sent = fake_railway.graphql_requests()[-1].json()["variables"]["input"]
    assert sent["replace"] is True and "serviceId" not in sent


async def test_project_token_client_sends_project_header(fake_railway, http):
    token = fake_railway.add_project_token("p-9", "e-9")
    validator = _validator(fake_railway, http)
    info = await validator.validate(SecretValue(token))
    client = validator.client_for(SecretValue(token), info.kind)

    await client.upsert_variables("p-9", "e-9", None, {"X": SecretValue("y")})

    last = fake_railway.graphql_requests()[-1]
    assert last.header("project-access-token") == token and last.header("authorization") is None
    with pytest.raises(ProviderRejected, match="Railway answered: Not Authorized"):
        await client.get_variables("other-project", "e-9", None)


async def test_client_with_a_revoked_token_is_rejected(fake_railway, http):
    client = RailwayGraphQLClient(fake_railway.endpoint, SecretValue(str(uuid.uuid4())), http=http)

    with pytest.raises(ProviderRejected, match="Railway answered: Not Authorized"):
        await client.get_variables("p", "e", None)


async def test_client_rate_limited_and_repr_is_token_free(fake_railway, http):
    token = fake_railway.add_account_token()
    client = RailwayGraphQLClient(fake_railway.endpoint, SecretValue(token), http=http)
    fake_railway.rate_limit(retry_after=9)

    with pytest.raises(ProviderRateLimited) as caught:
        await client.upsert_variables("p", "e", None, {"A": SecretValue("1")})

    assert caught.value.retry_after == 9
    assert token not in repr(client)


async def test_a_token_http_headers_cannot_carry_is_rejected_without_a_request(fake_railway, http):
    with pytest.raises(ProviderRejected):
        await RailwayGraphQLTokenValidator(fake_railway.endpoint, http).validate(SecretValue("tok\u00e8n"))
    assert fake_railway.requests == []
