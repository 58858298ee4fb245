"""Who is asking and from where, for the audit trail: set by the entrypoint for each request."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    trace_id: str | None = None


# A context variable rather than a parameter on every use case: the audit trail needs it, the
# use cases themselves do not. CLI jobs leave it at the default (no request).
NO_REQUEST = RequestContext()
current_request: ContextVar[RequestContext] = ContextVar("current_request", default=NO_REQUEST)
