"""What every request and response passes through before a handler sees it or a client gets it.

- Request bodies are JSON, decoded strictly into the handler's declared shape: `"cas": "1"` or
  `1.0` is not an integer, a `text/plain` body is not JSON (415), and a body nested 100,000 deep or
  not UTF-8 is a 400 problem, never a parser's recursion or decode error surfacing as a 500.
- Request headers are capped in total (431): a megabyte `Authorization` header is refused before
  anyone parses it as a token.
- Responses carry `X-Content-Type-Options: nosniff`; API responses `Cache-Control: no-store`
  (many carry a value, and a cache must keep none of them); HTML a strict Content-Security-Policy.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

from entrypoints.http.dependencies import provide_principal

# A bearer token is ~1 KiB; browsers send a few KiB of headers. 16 KiB is room for both, and
# uvicorn's own h11 limit is of the same size (httptools has none).
MAX_HEADER_BYTES = 16 * 1024

JSON_MEDIA_TYPES = ("application/json",)

# `default-src 'self'` for every page the service serves (the UI). The schema's docs pages load
# their renderer from a CDN and run an inline bootstrap script, so those pages (and only those)
# get the sources they need; see README "Security headers".
STRICT_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://unpkg.com; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://unpkg.com https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SCHEMA_PATH = "/schema"


PROVIDER_CALLS = {"rate_limit": "provider_calls"}  # `opt` of the routes that call a provider


async def before_handler(request: Request) -> None:
    """`before_request`: a strict body, then the provider-call budget of routes that spend one."""
    await strict_json_body(request)
    if request.route_handler.opt.get("rate_limit") == "provider_calls":
        principal = await provide_principal(request)
        await request.app.state.container.rate_limits.spend_provider_call(principal.user_id)


async def strict_json_body(request: Request) -> None:
    """`before_request`: decode the body strictly into the handler's `data` type, or refuse it.

    Litestar's own decoding converts leniently (strings to integers, floats to integers) and
    lets RecursionError/UnicodeDecodeError escape; this runs first, and its successful decode
    is the same value Litestar then builds, so nothing is accepted that this refused.
    """
    data_field = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data_field is None:
        return
    body = await request.body()
    if not body and data_field.has_default:
        return
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if body and media_type not in JSON_MEDIA_TYPES:
        raise HTTPException(status_code=415, detail="the body must be application/json")
    try:
        msgspec.json.decode(body, type=data_field.annotation, strict=True)
    except msgspec.ValidationError as invalid:
        message, _, path = str(invalid).partition(" - at `$")
        key = path.rstrip("`").lstrip(".")
        raise ValidationException(detail=message, extra=[{"message": message, "key": key}]) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, ValueError):
        # The messages of these can quote the body; the problem names the kind of fault only.
        raise ValidationException(
            detail="the body is not valid JSON",
            extra=[{"message": "the body is not UTF-8 JSON within the nesting limit", "key": ""}],
        ) from None


def header_size_limit(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: 431 when the request headers exceed `MAX_HEADER_BYTES` in total."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > MAX_HEADER_BYTES:
                await _send_problem(
                    send,
                    scope,
                    431,
                    "Request header fields too large",
                    f"the request headers exceed {MAX_HEADER_BYTES} bytes",
                )
                return
        await app(scope, receive, send)

    return middleware


def _allowed_methods(scope: Scope) -> str | None:
    """Every method of the route, as `Allow` must list them (RFC 9110).

    Litestar's generated OPTIONS handler names only the methods of the first handler registered
    for a path, so a path served by two controllers' handlers (GET and POST) lost one.
    """
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", ())
    methods: set[str] = set()
    for route in scope["app"].routes:
        if route.path in paths:
            methods.update(getattr(route, "methods", ()))
    return ", ".join(sorted(methods)) if methods else None


async def _send_problem(send: Send, scope: Scope, status: int, title: str, detail: str) -> None:
    body = msgspec.json.encode(
        {
            "type": f"https://mirage.dev/problems/http-{status}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
        }
    )
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


_STRICT_CSP, _DOCS_CSP = STRICT_CSP.encode(), DOCS_CSP.encode()


async def security_headers(message: Message, scope: Scope) -> None:
    """`before_send`: the headers every response gets, whichever handler (or error) produced it.

    It runs on every response, so it works on the raw header list in one pass instead of through
    `MutableScopeHeaders` (a search per header); OPTIONS, rare, takes the general path.
    """
    if message["type"] != "http.response.start":
        return
    if scope.get("method") == "OPTIONS":
        _options_headers(message, scope)
        return
    path: Any = scope.get("path", "")
    api = path.startswith("/api/")
    content_type = b""
    own_policy: tuple[bytes, bytes] | None = None
    kept: list[tuple[bytes, bytes]] = []
    for name, value in message.get("headers", ()):
        lowered = name.lower()
        if lowered == b"content-type":
            content_type = value.lower()
        elif lowered == b"x-content-type-options" or (api and lowered == b"cache-control"):
            continue  # set below, whatever the handler said
        elif lowered == b"content-security-policy":
            own_policy = (name, value)  # kept only where the response is not HTML
            continue
        kept.append((name, value))
    kept.append((b"x-content-type-options", b"nosniff"))
    if api:
        kept.append((b"cache-control", b"no-store"))
    if content_type.startswith(b"text/html"):
        kept.append((b"content-security-policy", _DOCS_CSP if path.startswith(SCHEMA_PATH) else _STRICT_CSP))
    elif own_policy is not None:
        kept.append(own_policy)
    message["headers"] = kept


def _options_headers(message: Message, scope: Scope) -> None:
    headers = MutableScopeHeaders.from_message(message)
    if "allow" in headers:
        headers["Allow"] = _allowed_methods(scope) or headers["allow"]
    headers["X-Content-Type-Options"] = "nosniff"
    path: Any = scope.get("path", "")
    if path.startswith("/api/"):
        headers["Cache-Control"] = "no-store"
    content_type = (headers.get("content-type") or "").lower()
    if content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = DOCS_CSP if path.startswith(SCHEMA_PATH) else STRICT_CSP
