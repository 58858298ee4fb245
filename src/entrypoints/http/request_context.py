"""Per-request context for the audit trail: client address, user agent, request and trace ids."""

from __future__ import annotations

import re
import uuid

from litestar.types import ASGIApp, Receive, Scope, Send

from domain.request_context import RequestContext, current_request

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _trace_id() -> str | None:
    try:
        from opentelemetry import trace
    except ImportError:  # tracing is optional
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        # Only the two headers the audit trail needs, found without decoding the rest (hot path).
        offered = user_agent = None
        for name, value in scope.get("headers", ()):
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == _REQUEST_ID_BYTES:
                offered = value.decode("latin-1")
        request_id = offered if offered and _SAFE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        client = scope.get("client")
        token = current_request.set(
            RequestContext(
                client_ip=client[0] if client else None,
                user_agent=user_agent,
                request_id=request_id,
                trace_id=_trace_id(),
            )
        )

        async def send_with_request_id(message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_request_id)
        finally:
            current_request.reset(token)

    return middleware
