"""What the provider controllers share: the dependency, the path types and the documented responses.

Provider controllers are thin: parse, call one service method, convert. The user is always the
verified principal.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import PathParameter

from domain.values import Principal
from entrypoints.container import ProviderServices
from entrypoints.http import documented as rules
from entrypoints.http.problems import PROBLEM_MEDIA_TYPE
from entrypoints.http.responses import PROBLEM_RESPONSES
from entrypoints.http.schemas import ProblemDetail

Caller = NamedDependency[Principal]
Providers = NamedDependency[ProviderServices]
Registry = Annotated[
    str,
    PathParameter(description="registry host[:port], e.g. ghcr.io or localhost:5000", schema_extra=rules.REGISTRY),
]
EnvId = Annotated[str, PathParameter(description="the environment's id", schema_extra=rules.ENV_ID)]
EnvKey = Annotated[str, PathParameter(description="a POSIX variable name", schema_extra=rules.ENV_VAR_NAME)]

RESPONSES = {
    **PROBLEM_RESPONSES,
    412: ResponseSpec(
        data_container=ProblemDetail,
        description="No credential configured; `link` says where to add one",
        media_type=PROBLEM_MEDIA_TYPE,
    ),
    429: ResponseSpec(
        data_container=ProblemDetail,
        description="The provider is rate-limiting; retry after Retry-After seconds",
        media_type=PROBLEM_MEDIA_TYPE,
    ),
}


def provide_provider_services(request: Request) -> ProviderServices:
    return request.app.state.container.providers


PROVIDER_DEPENDENCIES = {"providers": Provide(provide_provider_services, sync_to_thread=False)}
