"""One table from errors to RFC 9457 problem details; nothing else decides an error's status."""

from __future__ import annotations

import logging
import traceback

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from adapters.telemetry.metrics import record_auth_failure
from domain import credentials, errors, providers
from domain.audit import AuditUnavailable
from domain.lifecycle import SecretExpired
from domain.rate_limits import RateLimited
from entrypoints.http.schemas import ProblemDetail

log = logging.getLogger("mirage.http")

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "https://mirage.dev/problems/"

# Most specific first: the first matching class decides.
ERROR_STATUS: list[tuple[type[errors.DomainError], int, str]] = [
    (errors.ReservedKey, 422, "reserved-key"),
    (errors.InvalidInput, 422, "invalid-input"),
    (errors.ValueTooLarge, 413, "value-too-large"),
    (errors.NotAuthenticated, 401, "not-authenticated"),
    (errors.Forbidden, 403, "forbidden"),
    (errors.VaultRefused, 403, "vault-refused"),
    (errors.SecretNotFound, 404, "secret-not-found"),
    (errors.VersionNotFound, 404, "version-not-found"),
    (errors.VersionGone, 410, "version-deleted"),
    (SecretExpired, 410, "secret-expired"),
    (errors.VersionConflict, 409, "version-conflict"),
    (errors.VaultUnavailable, 503, "vault-unavailable"),
    (errors.StorageUnavailable, 503, "storage-unavailable"),
    (AuditUnavailable, 503, "audit-unavailable"),
    (RateLimited, 429, "rate-limited"),
    (providers.ProviderRejected, 422, "provider-rejected"),
    (providers.ProviderRateLimited, 429, "provider-rate-limited"),
    (providers.ProviderUnavailable, 503, "provider-unavailable"),
    (credentials.CredentialMissing, 412, "credential-missing"),
    (credentials.VaultDisabled, 409, "vault-disabled"),
]

# A provider that gave no Retry-After of its own: ask the client to wait this long.
DEFAULT_PROVIDER_RETRY_AFTER = 10

# Where a user adds a missing provider credential: the web UI's page (`link`) and, worded in the
# detail, the page and the API endpoint.
CREDENTIAL_HELP: dict[str, tuple[str, str]] = {
    providers.RAILWAY: (
        "/settings/credentials#railway",
        "add one in Settings → Credentials → Railway (POST /api/v1/secrets/railway)",
    ),
}


def _problem(
    request: Request, status: int, slug: str, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra
) -> Response:
    body = ProblemDetail(
        type=_TYPE_BASE + slug, title=title, status=status, detail=detail, instance=request.url.path, **extra
    )
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="mirage-secrets"'
    return Response(
        content=msgspec.json.encode(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def domain_error_handler(request: Request, exc: errors.DomainError) -> Response:
    status, slug = next(
        ((status, slug) for error_type, status, slug in ERROR_STATUS if isinstance(exc, error_type)),
        (500, "internal-error"),
    )
    extra: dict = {}
    if isinstance(exc, errors.InvalidInput) and exc.field:
        extra["field"] = exc.field
    if isinstance(exc, errors.VersionConflict) and exc.current_version is not None:
        extra["current_version"] = exc.current_version
    detail = str(exc)
    if isinstance(exc, credentials.CredentialMissing):
        link, how = CREDENTIAL_HELP.get(exc.provider, (None, None))
        if link is not None:
            extra["link"] = link
            detail = f"{detail}: {how}"
    if isinstance(exc, providers.ProviderError):
        extra["provider"] = exc.provider
    if status == 401:
        record_auth_failure(exc)  # a fixed reason label, never the token or the message
    response = _problem(request, status, slug, exc.title, detail, **extra)
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, (providers.ProviderUnavailable, providers.ProviderRateLimited)) and not retry_after:
        retry_after = DEFAULT_PROVIDER_RETRY_AFTER
    if status in (429, 503) and retry_after:
        response.headers["Retry-After"] = str(retry_after)
    if status >= 500:
        log.warning("request failed: %s %s -> %s (%s)", request.method, request.url.path, status, type(exc).__name__)
    return response


def validation_error_handler(request: Request, exc: ValidationException) -> Response:
    # msgspec's messages name the field and the expected type, never the submitted value.
    details = [
        {"message": str(item.get("message", "")), "key": str(item.get("key", ""))}
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    detail = "; ".join(f"{d['key']}: {d['message']}" if d["key"] else d["message"] for d in details)
    return _problem(
        request, 400, "bad-request", "Bad request", detail or "the request is malformed", errors=details or None
    )


def http_error_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    title = HTTP_TITLES.get(status, "Request failed")
    # Litestar's own headers matter: `Allow` on a 405 (RFC 9110), `Retry-After` on its 429.
    headers = {name: value for name, value in (exc.headers or {}).items() if name.lower() in _PASSED_HEADERS}
    return _problem(request, status, f"http-{status}", title, exc.detail or title, headers=headers)


HTTP_TITLES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Too many requests",
    431: "Request header fields too large",
}
_PASSED_HEADERS = frozenset({"allow", "retry-after"})


def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # No traceback in the response. The log gets the frames but not the message: vendor messages
    # can quote request parameters, and those may hold secret material.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unexpected %s on %s %s\n%s", type(exc).__name__, request.method, request.url.path, frames)
    return _problem(
        request, 500, "internal-error", "Internal error", "the service failed unexpectedly; it has been logged"
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    errors.DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
