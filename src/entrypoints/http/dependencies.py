"""Dependency providers: the verified principal and the services, from the app's container."""

from __future__ import annotations

from litestar import Request

from domain.errors import NotAuthenticated
from domain.values import Principal
from services.audit_service import AuditService
from services.secret_lifecycle import ExpiringSecretsService
from services.secret_service import SecretService


async def provide_principal(request: Request) -> Principal:
    container = request.app.state.container
    try:
        return _verified(request, container.identity)
    except NotAuthenticated as refused:
        await container.trail.failed_authentication(str(refused))
        raise


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
