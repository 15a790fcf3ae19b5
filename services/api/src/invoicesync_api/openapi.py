"""Examples in the OpenAPI document exactly as written.

FastAPI encodes the whole document with ``exclude_none``, which also drops the nulls
inside examples: ``"booking_number": null`` (not synced) vanished, and an answer example
lost required keys. This puts each example back from where it was declared: a model's
``json_schema_extra``, a route's ``responses`` or ``openapi_extra``, a ``Body``'s
``openapi_examples``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel

from invoicesync_api.deps import RequiredScope
from invoicesync_api.errors.openapi import forbidden_response


def examples_as_written(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    _restore_model_examples(document)
    for route in api_routes(app):
        for method in route.methods or ():
            _restore_route_examples(route, document["paths"][route.path_format][method.lower()])
    return document


def scope_responses(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """Each operation that needs a key's scope says which (``x-required-scope``, a line of
    its description) and documents its 403 with an example naming that scope."""
    for route in api_routes(app):
        scope, path = required_scope(route), route.path_format
        if scope is None or path is None:
            continue
        for method in route.methods or ():
            operation = document["paths"][path][method.lower()]
            operation["x-required-scope"] = scope
            note = f"Needs an API key with the `{scope}` scope."
            description = operation.get("description")
            operation["description"] = f"{description}\n\n{note}" if description else note
            operation["responses"]["403"] = forbidden_response(scope, path)
    return document


def required_scope(route: RouteContext) -> str | None:
    """The scope a route declares with ``deps.Needs…``, or None (no partner key)."""
    for dependency in route.dependant.dependencies:
        if isinstance(dependency.call, RequiredScope):
            return str(dependency.call.scope)
    return None


def api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """The operations in the document, with what their routers added (prefix, responses);
    walked as FastAPI's ``get_openapi`` does, since included routers are not flattened."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            yield route


def api_models() -> Iterator[type[BaseModel]]:
    """Every pydantic model this package defines (schemas and router-local models)."""
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        model = pending.pop()
        pending += model.__subclasses__()
        if model.__module__.startswith("invoicesync_api."):
            yield model


def _restore_model_examples(document: dict[str, Any]) -> None:
    models = list(api_models())
    # A component is named after its model unless two models share a name: skip those.
    names = Counter(m.__name__ for m in models)
    schemas = document.get("components", {}).get("schemas", {})
    for model in models:
        extra = model.model_config.get("json_schema_extra")
        schema = schemas.get(model.__name__)
        unique = names[model.__name__] == 1
        if unique and schema is not None and isinstance(extra, dict) and "examples" in extra:
            schema["examples"] = copy.deepcopy(extra["examples"])


def _restore_media(declared: dict[str, Any] | None, served: dict[str, Any] | None) -> None:
    """Named examples per media type, from a declared ``content`` into the served one."""
    for media, holder in (declared or {}).items():
        target = (served or {}).get(media)
        if target is not None and isinstance(holder, dict) and "examples" in holder:
            target["examples"] = copy.deepcopy(holder["examples"])


def _restore_route_examples(route: RouteContext, operation: dict[str, Any]) -> None:
    for status, response in route.responses.items():
        served = operation.get("responses", {}).get(str(status), {})
        _restore_media(response.get("content"), served.get("content"))
    served_body = operation.get("requestBody", {}).get("content")
    extra_body = (route.openapi_extra or {}).get("requestBody", {})
    _restore_media(extra_body.get("content"), served_body)
    body_examples = getattr(getattr(route.body_field, "field_info", None), "openapi_examples", None)
    if body_examples and served_body and "application/json" in served_body:
        served_body["application/json"]["examples"] = copy.deepcopy(body_examples)
