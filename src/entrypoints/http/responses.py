"""The problem responses every API route documents in the OpenAPI schema."""

from __future__ import annotations

from litestar.openapi import ResponseSpec

from entrypoints.http.problems import PROBLEM_MEDIA_TYPE
from entrypoints.http.schemas import ProblemDetail


def _problem(description: str) -> ResponseSpec:
    # No generated examples: Litestar makes them up at random, so the schema (and the web UI's
    # types generated from it) would change at every start.
    return ResponseSpec(
        data_container=ProblemDetail, description=description, media_type=PROBLEM_MEDIA_TYPE, generate_examples=False
    )


PROBLEM_RESPONSES = {
    400: _problem("Malformed request: bad JSON, unknown fields or wrong types"),
    401: _problem("Missing, expired or invalid bearer token"),
    403: _problem("The secret store refused the operation"),
    404: _problem("No such secret or version"),
    409: _problem("Check-and-set conflict: the secret changed meanwhile"),
    410: _problem("The version was deleted"),
    413: _problem("The body or the secret value is too large"),
    415: _problem("The body is not application/json"),
    422: _problem("A key, tag, type or value breaks the rules"),
    429: _problem("Too many requests; retry after Retry-After seconds"),
    431: _problem("The request headers are too large"),
    500: _problem("The service failed unexpectedly (logged, never with the request's values)"),
    503: _problem("Vault or the database is unavailable; retry after Retry-After seconds"),
}
