"""Dependency providers: the verified principal and the services, from the app's container."""

from __future__ import annotations

from litestar import Request

from domain.errors import NotAuthenticated
from domain.values import Principal
from services.secret_service import SecretService


def provide_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    return request.app.state.container.identity.verify(token.strip())


def provide_secret_service(request: Request) -> SecretService:
    return request.app.state.container.secrets
