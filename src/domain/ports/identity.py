"""Ports: Who is calling: bearer tokens to principals."""

from __future__ import annotations

from typing import Protocol

from domain.values import Principal


class IdentityVerifier(Protocol):
    """Turns a bearer token into a verified `Principal`, or raises `NotAuthenticated`."""

    def verify(self, token: str) -> Principal: ...
