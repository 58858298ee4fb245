"""Dependency providers: the verified principal and the services, from the app's container."""

from __future__ import annotations

from litestar import Request

from domain.errors import NotAuthenticated
from domain.values import Principal
from services.audit_service import AuditService
from services.secret_lifecycle import ExpiringSecretsService
from services.secret_service import SecretService


async def provide_principal(request: Request) -> Principal:
    """The verified caller, once per request (the rate-limit hook may have asked first).

    An address that failed to authenticate too often is refused (429) before its token is looked
    at; every failure counts against the address.
    """
    cached = request.state.get(_PRINCIPAL)
    if cached is not None:
        return cached
    container = request.app.state.container
    address = request.client.host if request.client else "unknown"
    await container.rate_limits.check_address(address)
    try:
        principal = _verified(request, container.identity)
    except NotAuthenticated as refused:
        await container.rate_limits.failed_authentication(address)
        await container.trail.failed_authentication(str(refused))
        raise
    request.state[_PRINCIPAL] = principal
    return principal


_PRINCIPAL = "mirage_principal"


def _verified(request: Request, identity) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    return identity.verify(token.strip())


def provide_secret_service(request: Request) -> SecretService:
    return request.app.state.container.secrets


def provide_expiring_service(request: Request) -> ExpiringSecretsService:
    return request.app.state.container.expiring


def provide_audit_service(request: Request) -> AuditService:
    return request.app.state.container.audit
