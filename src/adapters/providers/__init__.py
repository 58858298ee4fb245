"""Provider adapters (httpx): Railway GraphQL, GitHub REST, Docker registry logins."""

from adapters.providers.docker_registry import DockerRegistryLoginTester
from adapters.providers.github import GitHubTokenValidatorHttp
from adapters.providers.railway import RailwayGraphQLClient, RailwayGraphQLTokenValidator

__all__ = [
    "DockerRegistryLoginTester",
    "GitHubTokenValidatorHttp",
    "RailwayGraphQLClient",
    "RailwayGraphQLTokenValidator",
]
