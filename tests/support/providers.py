"""Local stand-ins for Railway (GraphQL), GitHub (REST) and a token-auth Docker registry.

Each is a small threaded HTTP server on 127.0.0.1 that speaks the wire format described in
`shared/design/PROVIDERS.md`, is configured per test through plain attributes, and records every
request (headers, body) so tests can assert what was sent. No test talks to the internet.

Use them as context managers (`with FakeRailway() as railway: ...`) or through the fixtures
`fake_railway`, `fake_github` and `fake_token_registry` (tests/conftest.py).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str → as is; None → empty
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so stopping the server never waits on idle keep-alives.
    protocol_version = "HTTP/1.0"
    server: _Server

    def _serve(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        fake.requests.append(request)
        delay = fake.delay_seconds
        # Waits on the stop event, so stopping the server cuts a slow answer short.
        if delay and fake.stopping.wait(delay):
            return
        try:
            reply = fake.handle(request)
        except Exception as exc:  # a bug in a fake must show up as a 500, not a hung test
            reply = Reply(500, {"message": f"fake server error: {exc!r}"})
        if isinstance(reply.body, (dict, list)):
            payload = json.dumps(reply.body).encode()
            content_type = "application/json"
        elif isinstance(reply.body, str):
            payload, content_type = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            payload, content_type = reply.body or b"", "application/octet-stream"
        try:
            self.send_response(reply.status)
            headers = {"Content-Type": content_type, **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to answer

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHTTPServer


class FakeHTTPServer:
    """A threaded HTTP server on 127.0.0.1:<free port>; subclasses implement `handle`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.delay_seconds: float = 0.0
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Queued one-shot answers, consumed before `handle` runs (429s, 5xx, ...).
        self._queued: list[Reply] = []
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        assert self._server is not None, "server not started"
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> FakeHTTPServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, whatever they ask."""
        with self._lock:
            self._queued.extend(replies)

    def handle(self, request: RecordedRequest) -> Reply:
        with self._lock:
            queued = self._queued.pop(0) if self._queued else None
        if queued is not None:
            return queued
        return self.answer(request)

    def answer(self, request: RecordedRequest) -> Reply:
        return Reply(404, {"message": "Not Found"})


# ------------------------------------------------------------------------------------------
# Railway


def railway_error(message: str, path: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "locations": [{"line": 1, "column": 9}]}
    if path:
        error["path"] = [path]
    error["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return {"data": None, "errors": [error]}


@dataclass
class RailwayAccount:
    id: str
    name: str
    email: str


class FakeRailway(FakeHTTPServer):
    """Railway's GraphQL endpoint at `/graphql/v2` (see `endpoint`).

    Configure: `add_account_token`, `add_workspace_token`, `add_project_token`;
    `unauthorized_status` (200, as Railway usually answers, or 401); `queue(...)` /
    `rate_limit(retry_after)` / `fail(status)` for one-shot answers; `delay_seconds`.
    State: `variables[(project_id, environment_id, service_id)] = {KEY: value}`.
    """

    PATH = "/graphql/v2"

    def __init__(self) -> None:
        super().__init__()
        self.account_tokens: dict[str, RailwayAccount] = {}
        self.workspace_tokens: dict[str, list[dict[str, str]]] = {}
        self.project_tokens: dict[str, tuple[str, str]] = {}
        self.unauthorized_status = 200
        self.variables: dict[tuple[str, str, str | None], dict[str, str]] = {}
        self.rate_limit_remaining = 1000

    @property
    def endpoint(self) -> str:
        return f"{self.url}{self.PATH}"

    def add_account_token(self, name: str = "Ada", email: str = "ada@example.com") -> str:
        token = str(uuid.uuid4())
        self.account_tokens[token] = RailwayAccount(id=str(uuid.uuid4()), name=name, email=email)
        return token

    def add_workspace_token(self, projects: list[dict[str, str]] | None = None) -> str:
        token = str(uuid.uuid4())
        self.workspace_tokens[token] = (
            projects if projects is not None else [{"id": str(uuid.uuid4()), "name": "mirage"}]
        )
        return token

    def add_project_token(self, project_id: str | None = None, environment_id: str | None = None) -> str:
        token = str(uuid.uuid4())
        self.project_tokens[token] = (project_id or str(uuid.uuid4()), environment_id or str(uuid.uuid4()))
        return token

    def rate_limit(self, retry_after: int = 30, count: int = 1) -> None:
        reply = Reply(
            429,
            {"errors": [{"message": "Rate limit exceeded"}]},
            {
                "Retry-After": str(retry_after),
                "X-RateLimit-Limit": "1000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + retry_after),
            },
        )
        self.queue(*([reply] * count))

    def fail(self, status: int = 503, count: int = 1) -> None:
        self.queue(*([Reply(status, "upstream unavailable")] * count))

    def graphql_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == self.PATH]

    def _headers(self) -> dict[str, str]:
        self.rate_limit_remaining = max(0, self.rate_limit_remaining - 1)
        return {
            "X-RateLimit-Limit": "1000",
            "X-RateLimit-Remaining": str(self.rate_limit_remaining),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
        }

    def _refuse(self, message: str, path: str) -> Reply:
        return Reply(self.unauthorized_status, railway_error(message, path), self._headers())

    def _ok(self, data: dict[str, Any]) -> Reply:
        return Reply(200, {"data": data}, self._headers())

    def answer(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or request.path != self.PATH:
            return Reply(404, "Not Found")
        try:
            body = request.json()
            query = body["query"]
        except (ValueError, KeyError, TypeError):
            return Reply(400, {"errors": [{"message": "Must provide query string."}]})
        variables = body.get("variables") or {}

        bearer = request.header("authorization") or ""
        bearer_token = bearer[len("Bearer ") :] if bearer.startswith("Bearer ") else None
        project_token = request.header("project-access-token")
        account = self.account_tokens.get(bearer_token or "")
        workspace = self.workspace_tokens.get(bearer_token or "")
        project_scope = self.project_tokens.get(project_token or "")

        if re.search(r"\bvariableCollectionUpsert\b", query):
            data = variables.get("input") or {}
            if not self._may_touch(account, workspace, bearer_token, project_scope, data):
                return self._refuse("Not Authorized", "variableCollectionUpsert")
            key = (data["projectId"], data["environmentId"], data.get("serviceId"))
            current = {} if data.get("replace") else dict(self.variables.get(key, {}))
            current.update({str(k): str(v) for k, v in (data.get("variables") or {}).items()})
            self.variables[key] = current
            return self._ok({"variableCollectionUpsert": True})
        if re.search(r"\bvariables\s*\(", query):
            if not self._may_touch(account, workspace, bearer_token, project_scope, variables):
                return self._refuse("Not Authorized", "variables")
            key = (variables["projectId"], variables["environmentId"], variables.get("serviceId"))
            return self._ok({"variables": dict(self.variables.get(key, {}))})
        if re.search(r"\bprojectToken\b", query):
            if project_scope is None:
                return self._refuse("Project Token not found", "projectToken")
            return self._ok({"projectToken": {"projectId": project_scope[0], "environmentId": project_scope[1]}})
        if re.search(r"\bprojects\b", query):
            if account is not None:
                return self._ok({"projects": {"edges": []}})
            if workspace is not None:
                return self._ok({"projects": {"edges": [{"node": p} for p in workspace]}})
            return self._refuse("Not Authorized", "projects")
        if re.search(r"\bme\b", query):
            if account is None:
                return self._refuse("Not Authorized", "me")
            return self._ok({"me": {"id": account.id, "name": account.name, "email": account.email}})
        return Reply(400, {"errors": [{"message": 'Cannot query field on type "Query".'}]})

    @staticmethod
    def _may_touch(account, workspace, bearer_token, project_scope, data: dict[str, Any]) -> bool:
        if account is not None or workspace is not None:
            return True
        if project_scope is not None:
            return (data.get("projectId"), data.get("environmentId")) == project_scope
        return False


# ------------------------------------------------------------------------------------------
# GitHub


@dataclass
class GitHubUser:
    login: str
    id: int
    scopes: str | None = None  # the X-OAuth-Scopes header value; None sends no header
    expiration: str | None = None  # the GitHub-Authentication-Token-Expiration header value
    public_repos: int = 3
    total_private_repos: int | None = None
    repositories: int = 3  # what `GET /user/repos` lists (owned, collaborator, organisation member)


BAD_CREDENTIALS = {
    "message": "Bad credentials",
    "documentation_url": "https://docs.github.com/rest",
    "status": "401",
}


class FakeGitHub(FakeHTTPServer):
    """GitHub's REST API: `GET /user`. `api_url` is the base to configure.

    Configure: `add_token(prefix, ...)` → token; `rate_limit(...)`, `secondary_rate_limit(...)`,
    `fail(...)`, `queue(...)`, `delay_seconds`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, GitHubUser] = {}
        self._next_id = 1000

    @property
    def api_url(self) -> str:
        return self.url

    def add_token(
        self,
        prefix: str = "ghp_",
        *,
        login: str = "octocat",
        scopes: str | None = None,
        expiration: str | None = None,
        public_repos: int = 3,
        total_private_repos: int | None = None,
        repositories: int | None = None,
    ) -> str:
        token = prefix + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36]
        self._next_id += 1
        self.tokens[token] = GitHubUser(
            login=login,
            id=self._next_id,
            scopes=scopes,
            expiration=expiration,
            public_repos=public_repos,
            total_private_repos=total_private_repos,
            repositories=repositories if repositories is not None else public_repos + (total_private_repos or 0),
        )
        return token

    def rate_limit(self, *, reset_in: int = 120, status: int = 403) -> None:
        self.queue(
            Reply(
                status,
                {
                    "message": "API rate limit exceeded for user ID 1001.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
                {
                    "x-ratelimit-limit": "5000",
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-used": "5000",
                    "x-ratelimit-reset": str(int(time.time()) + reset_in),
                },
            )
        )

    def secondary_rate_limit(self, *, retry_after: int = 60, status: int = 429) -> None:
        self.queue(
            Reply(status, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": str(retry_after)})
        )

    def fail(self, status: int = 502) -> None:
        self.queue(Reply(status, {"message": "Server Error"}))

    def answer(self, request: RecordedRequest) -> Reply:
        if request.method != "GET" or request.path not in ("/user", "/user/repos"):
            return Reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        limits = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-reset": str(int(time.time()) + 3600),
        }
        auth = request.header("authorization") or ""
        token = None
        for scheme in ("Bearer ", "token "):
            if auth.startswith(scheme):
                token = auth[len(scheme) :]
        user = self.tokens.get(token or "")
        if user is None:
            return Reply(401, BAD_CREDENTIALS, limits)
        headers = dict(limits)
        if request.path == "/user/repos":
            return self._repos(request, user, headers)
        if user.scopes is not None:
            headers["X-OAuth-Scopes"] = user.scopes
            headers["X-Accepted-OAuth-Scopes"] = ""
        if user.expiration is not None:
            headers["GitHub-Authentication-Token-Expiration"] = user.expiration
        body: dict[str, Any] = {
            "login": user.login,
            "id": user.id,
            "type": "User",
            "name": user.login.title(),
            "public_repos": user.public_repos,
        }
        if user.total_private_repos is not None:
            body["total_private_repos"] = user.total_private_repos
        return Reply(200, body, headers)

    def _repos(self, request: RecordedRequest, user: GitHubUser, headers: dict[str, str]) -> Reply:
        """`GET /user/repos`: one page, and GitHub's `Link` header when there are more pages."""
        per_page = max(1, min(100, int(request.query.get("per_page", ["30"])[0])))
        page = max(1, int(request.query.get("page", ["1"])[0]))
        pages = max(1, -(-user.repositories // per_page))
        first = (page - 1) * per_page
        body = [
            {"id": 5000 + n, "name": f"repo-{n}", "full_name": f"{user.login}/repo-{n}"}
            for n in range(first, min(first + per_page, user.repositories))
        ]
        if pages > 1:
            base = f"{self.url}/user/repos?per_page={per_page}"
            links = []
            if page < pages:
                links.append(f'<{base}&page={page + 1}>; rel="next"')
                links.append(f'<{base}&page={pages}>; rel="last"')
            if page > 1:
                links.append(f'<{base}&page=1>; rel="first"')
                links.append(f'<{base}&page={page - 1}>; rel="prev"')
            headers = {**headers, "Link": ", ".join(links)}
        return Reply(200, body, headers)


# ------------------------------------------------------------------------------------------
# Docker registry with token auth (what distribution does behind an auth server)


class FakeTokenServer(FakeHTTPServer):
    """A registry token service: `GET /token?service=..&account=..` with Basic auth.

    Answers like Docker Hub's auth server: 200 `{"token", "access_token", "expires_in",
    "issued_at"}`, 401 on bad credentials. `token_field` picks which key carries the token.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self.users: dict[str, str] = {}
        self.issued: set[str] = set()
        self.token_field = "both"  # "token", "access_token" or "both"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def answer(self, request: RecordedRequest) -> Reply:
        if request.path != "/token":
            return Reply(404, {"details": "not found"})
        auth = request.header("authorization") or ""
        if not auth.startswith("Basic "):
            return Reply(
                401, {"details": "incorrect username or password"}, {"WWW-Authenticate": 'Basic realm="token"'}
            )
        try:
            username, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return Reply(400, {"details": "malformed basic auth"})
        if self.users.get(username) != password or request.query.get("account", [username])[0] != username:
            return Reply(401, {"details": "incorrect username or password"})
        if request.query.get("service", [None])[0] != self.service:
            return Reply(400, {"details": "invalid service"})
        token = secrets.token_urlsafe(32)
        self.issued.add(token)
        body: dict[str, Any] = {"expires_in": 300, "issued_at": "2026-01-01T00:00:00Z"}
        if self.token_field in ("token", "both"):
            body["token"] = token
        if self.token_field in ("access_token", "both"):
            body["access_token"] = token
        return Reply(200, body)


class FakeTokenRegistry(FakeHTTPServer):
    """A registry's `/v2/` behind token auth, as distribution answers it.

    `mode`: "bearer" (401 + Bearer challenge naming `token_server`), "open" (200 without auth),
    "not_v2" (404).
    """

    SERVICE = "fake-registry.local"

    def __init__(self, token_server: FakeTokenServer | None = None, mode: str = "bearer") -> None:
        super().__init__()
        self.token_server = token_server
        self.mode = mode

    def answer(self, request: RecordedRequest) -> Reply:
        v2 = {"Docker-Distribution-API-Version": "registry/2.0"}
        if self.mode == "not_v2" or request.path != "/v2/":
            return Reply(404, "404 page not found")
        if self.mode == "open":
            return Reply(200, {}, v2)
        auth = request.header("authorization") or ""
        assert self.token_server is not None
        if auth.startswith("Bearer ") and auth[7:] in self.token_server.issued:
            return Reply(200, {}, v2)
        challenge = f'Bearer realm="{self.token_server.realm}",service="{self.token_server.service}"'
        return Reply(
            401,
            {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]},
            {**v2, "WWW-Authenticate": challenge},
        )
