"""Ports: what the services need from the outside world, in domain terms only, one module per
concern. Adapters name the port they implement; code imports them from here (`domain.ports`)."""

from __future__ import annotations

from domain.ports.accounts import EnvironmentRegistry, UserAccounts
from domain.ports.audit import AuditLog, ChainWitness
from domain.ports.cache import CachedSecret, SecretCache
from domain.ports.identity import IdentityVerifier
from domain.ports.index import SecretIndex, UserDirectory
from domain.ports.lifecycle import JobLock, SecretLifecycleIndex
from domain.ports.providers import (
    GitHubTokenValidator,
    RailwayApi,
    RailwayClients,
    RailwayTokenValidator,
    RegistryLoginTester,
)
from domain.ports.vault import SecretVault, VaultHealth, VaultSessions

__all__ = [
    "AuditLog",
    "CachedSecret",
    "ChainWitness",
    "EnvironmentRegistry",
    "GitHubTokenValidator",
    "IdentityVerifier",
    "JobLock",
    "RailwayApi",
    "RailwayClients",
    "RailwayTokenValidator",
    "RegistryLoginTester",
    "SecretCache",
    "SecretIndex",
    "SecretLifecycleIndex",
    "SecretVault",
    "UserAccounts",
    "UserDirectory",
    "VaultHealth",
    "VaultSessions",
]
