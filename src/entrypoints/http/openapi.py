"""Finishing touches on the generated OpenAPI document, so that it states what the server does.

Litestar's generator leaves out a few facts: that request bodies refuse unknown fields
(`forbid_unknown_fields` → `additionalProperties: false`), the media types of the audit export,
and the 500 problem every route can answer. It also puts a nullable string's constraints beside
its `oneOf` rather than on the string; they are moved where validators and fuzzers read them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin

from domain.lifecycle import MAX_ROTATE_EVERY_DAYS, MAX_TTL
from entrypoints.http import documented as rules
from entrypoints.http import provider_schemas, schemas

# Constraints by the JSON type they apply to, for moving them onto the right `oneOf` alternative.
_CONSTRAINTS_BY_TYPE = {
    "string": ("pattern", "maxLength", "minLength"),
    "array": ("maxItems", "minItems"),
    "integer": ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"),
}
_ALL_CONSTRAINTS = tuple(c for names in _CONSTRAINTS_BY_TYPE.values() for c in names)
EXPORT_PATH = "/api/v1/secrets/audit/export"
EXPORT_MEDIA_TYPES = {
    "text/csv": "one header row, then one row per event (columns as in AuditLogRead)",
    "application/x-ndjson": "one AuditLogRead JSON object per line",
}
# List filters in the query: `domain.secrets.validate_filter`.
FILTER_PARAMETERS = {("/api/v1/secrets", "get"): ("type", "q", "tag")}


def refine_openapi(app: Litestar) -> None:
    document = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    components = document.get("components", {}).get("schemas", {})
    for struct in _request_structs():
        component = components.get(struct.__name__)
        if component is not None and struct.__struct_config__.forbid_unknown_fields:
            component["additionalProperties"] = False
    for name in ("SecretCreate", "SecretMetadataUpdate", "ProviderMetadataUpdate"):
        tags = components.get(name, {}).get("properties", {}).get("tags")
        if tags is not None:
            for alternative in [tags, *tags.get("oneOf", [])]:
                if alternative.get("type") == "array":
                    alternative["items"] = {"type": "string", **rules.TAG}
    for (path, method), names in FILTER_PARAMETERS.items():
        for parameter in document["paths"].get(path, {}).get(method, {}).get("parameters", []):
            if parameter["name"] in names:
                _constrain_strings(parameter["schema"], rules.FILTER)
    export = document["paths"].get(EXPORT_PATH, {}).get("get")
    if export is not None:
        export["responses"]["200"]["content"] = {
            media_type: {"schema": {"type": "string", "description": description}}
            for media_type, description in EXPORT_MEDIA_TYPES.items()
        }
    # The lifecycle fields (`domain.lifecycle`): a ttl of 1 second to 3650 days, as seconds or
    # `<n>s|m|h|d`; rotate_every of 1 to 3650 days.
    for name in ("SecretCreate", "SecretMetadataUpdate"):
        properties = components.get(name, {}).get("properties", {})
        if "ttl" in properties:
            properties["ttl"] = {
                "oneOf": [
                    {"type": "integer", "minimum": 1, "maximum": int(MAX_TTL.total_seconds())},
                    # Durations surely inside the bound (the server also takes up to 3650d).
                    {
                        "type": "string",
                        "pattern": "^(?:[1-9][0-9]{0,7}s|[1-9][0-9]{0,5}m|[1-9][0-9]{0,3}h|[1-9][0-9]{0,2}d)$",
                    },
                    {"type": "null"},
                ],
                "description": properties["ttl"].get("description", ""),
            }
        if "rotate_every" in properties:
            properties["rotate_every"] = {
                "oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_ROTATE_EVERY_DAYS}, {"type": "null"}]
            }
    # ttl or expires_at, not both (a null one does not count).
    for name in ("SecretCreate", "SecretMetadataUpdate", "EnvSecretCreate"):
        component = components.get(name)
        if component is not None and {"ttl", "expires_at"} <= set(component.get("properties", {})):
            component["not"] = {
                "required": ["ttl", "expires_at"],
                "properties": {"ttl": {"not": {"type": "null"}}, "expires_at": {"not": {"type": "null"}}},
            }
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter["in"] != "query":
                    continue
                if parameter["name"] == "purpose":
                    parameter["schema"] = {"type": "string", "enum": ["run", "export"]}
                elif parameter["name"] == "within":
                    # A warning window of at most 366 days: seconds, or <n>s|m|h|d (surely inside it).
                    parameter["schema"] = {
                        "type": "string",
                        "pattern": "^(?:[0-9]{1,7}s?|[0-9]{1,5}m|[0-9]{1,3}h|[0-9]{1,2}d)$",
                    }
    # Litestar drops a bound of 0 (`ge=0`): check-and-set 0 means "must not exist yet".
    cas = components.get("SecretCreate", {}).get("properties", {}).get("cas")
    if cas is not None:
        cas["minimum"] = 0
    _push_into_alternatives(document)
    _no_null_in_queries(document)


def _request_structs() -> list[type[msgspec.Struct]]:
    found = []
    for module in (schemas, provider_schemas):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and value is not msgspec.Struct:
                found.append(value)
    return found


def _constrain_strings(schema: dict[str, Any], constraints: dict[str, Any]) -> None:
    """Put `constraints` on every string in `schema` (itself, its array items, its alternatives)."""
    if schema.get("type") == "string":
        schema.update(constraints)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        _constrain_strings(schema["items"], constraints)
    for alternative in schema.get("oneOf", []):
        _constrain_strings(alternative, constraints)


def _push_into_alternatives(node: Any) -> None:
    if isinstance(node, dict):
        alternatives = node.get("oneOf")
        if isinstance(alternatives, list) and any(k in node for k in _ALL_CONSTRAINTS):
            moved = {k: node.pop(k) for k in _ALL_CONSTRAINTS if k in node}
            for alternative in alternatives:
                kind = alternative.get("type") if isinstance(alternative, dict) else None
                for name in _CONSTRAINTS_BY_TYPE.get(kind, ()) if isinstance(kind, str) else ():
                    if name in moved:
                        alternative[name] = moved[name]
        for value in node.values():
            _push_into_alternatives(value)
    elif isinstance(node, list):
        for value in node:
            _push_into_alternatives(value)


def _no_null_in_queries(document: dict[str, Any]) -> None:
    """An optional query parameter is absent, never `null`: keep only its non-null alternative."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                alternatives = [a for a in schema.get("oneOf", []) if a.get("type") != "null"]
                if parameter.get("in") == "query" and len(alternatives) == 1 and len(schema["oneOf"]) == 2:
                    del schema["oneOf"]
                    schema.update(alternatives[0])
