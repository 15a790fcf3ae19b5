"""The OpenAPI document shows a whole example of every JSON request body and answer, and
every example in it is valid: against the schema it sits in (jsonschema, $refs resolved in
the document), against the pydantic model behind it, and against the API's own arithmetic.
A wrong example misleads a frontend developer more than a missing one.

Building the app and its document opens no database connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from pydantic import BaseModel, SecretStr, TypeAdapter
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from invoicesync_api.app import create_app
from invoicesync_api.documents import totals
from invoicesync_api.documents.schemas import DocumentOut, LineIn
from invoicesync_api.integrations.schemas import IntegrationIn, IntegrationOut
from invoicesync_api.integrations.service import validated_settings
from invoicesync_api.openapi import api_models, api_routes
from invoicesync_api.schemas import Page
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.crypto import generate_key

DOCUMENT_URI = "urn:invoicesync:openapi"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
LINE_FIELDS = set(LineIn.model_fields)
# JSON Schema keywords whose values are schemas, or maps or lists of schemas.
SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "propertyNames")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(ApiSettings(encryption_keys=SecretStr(generate_key())))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _schema_examples(pointer: str, schema: Any) -> Iterator[tuple[str, str, Any]]:
    """(schema pointer, example pointer, value) for each example in a schema and its parts."""
    if not isinstance(schema, dict):
        return
    for index, value in enumerate(schema.get("examples", [])):
        yield pointer, f"{pointer}/examples/{index}", value
    if "example" in schema:
        yield pointer, f"{pointer}/example", schema["example"]
    for key in SUBSCHEMA:
        yield from _schema_examples(f"{pointer}/{key}", schema.get(key))
    for key in SUBSCHEMA_MAPS:
        for name, sub in schema.get(key, {}).items():
            yield from _schema_examples(f"{pointer}/{key}/{_escape(name)}", sub)
    for key in SUBSCHEMA_LISTS:
        for index, sub in enumerate(schema.get(key, [])):
            yield from _schema_examples(f"{pointer}/{key}/{index}", sub)


def _holder_examples(pointer: str, holder: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """Examples of a media type or parameter, checked against its ``schema``."""
    yield from _schema_examples(f"{pointer}/schema", holder.get("schema"))
    if "example" in holder:
        yield f"{pointer}/schema", f"{pointer}/example", holder["example"]
    for name, example in holder.get("examples", {}).items():
        yield f"{pointer}/schema", f"{pointer}/examples/{_escape(name)}", example["value"]


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"/paths/{_escape(path)}/{method}", f"{method.upper()} {path}", operation


def _all_examples(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    for name, schema in document["components"]["schemas"].items():
        yield from _schema_examples(f"/components/schemas/{_escape(name)}", schema)
    for pointer, _, operation in _operations(document):
        for index, parameter in enumerate(operation.get("parameters", [])):
            yield from _holder_examples(f"{pointer}/parameters/{index}", parameter)
        for media, holder in operation.get("requestBody", {}).get("content", {}).items():
            yield from _holder_examples(f"{pointer}/requestBody/content/{_escape(media)}", holder)
        for status, response in operation["responses"].items():
            for media, holder in response.get("content", {}).items():
                yield from _holder_examples(
                    f"{pointer}/responses/{status}/content/{_escape(media)}", holder
                )


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for segment in schema["$ref"].removeprefix("#/").split("/"):
            node = node[segment.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema


def _has_whole_example(document: dict[str, Any], holder: dict[str, Any]) -> bool:
    """An example of the whole body: on the media type, or on its schema as resolved
    (a list's items count: /docs builds the list from them)."""
    if "example" in holder or holder.get("examples"):
        return True
    schema = _resolve(document, holder.get("schema", {}))
    if schema.get("type") == "array":
        schema = _resolve(document, schema.get("items", {}))
    return bool(schema.get("examples") or "example" in schema)


def test_the_document_is_built_without_a_database(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    assert len(list(_all_examples(document))) > 100


def test_every_example_is_valid_against_the_schema_it_sits_in(
    document: dict[str, Any],
) -> None:
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    invalid = []
    for schema_pointer, example_pointer, value in _all_examples(document):
        validator = Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#{schema_pointer}"},
            registry=registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        invalid += [
            f"{example_pointer} at {'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(value)
        ]
    assert invalid == [], "\n".join(invalid)


def test_every_json_body_and_answer_has_a_whole_example(document: dict[str, Any]) -> None:
    missing = []
    for _, name, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get(JSON)
        if body is not None and not _has_whole_example(document, body):
            missing.append(f"{name}: request body")
        for status, response in operation["responses"].items():
            content = response.get("content", {})
            for media in (JSON, PROBLEM_JSON):
                holder = content.get(media)
                if holder is None or status[0] not in "245":
                    continue
                if not _has_whole_example(document, holder):
                    missing.append(f"{name}: {status} {media}")
    assert missing == [], "\n".join(missing)


def _model_examples(model: type[BaseModel]) -> list[Any]:
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return list(examples) if isinstance(examples, list) else []


def test_model_examples_are_accepted_by_their_models(app: FastAPI) -> None:
    """Stricter than the schema: validators (no float amounts, due after issue) run too."""
    checked, refused = 0, []
    for model in api_models():
        for example in _model_examples(model):
            checked += 1
            try:
                model.model_validate(example)
            except ValueError as exc:
                refused.append(f"{model.__qualname__}: {exc}")
    assert refused == [], "\n".join(refused)
    assert checked >= 30


def _named_examples(holder: dict[str, Any] | None) -> list[Any]:
    return [e["value"] for e in (holder or {}).get("examples", {}).values()]


def _route_examples(app: FastAPI, document: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(operation, the type FastAPI reads or writes there, example) for the named examples
    of request bodies and of the route's own answer."""
    for route in api_routes(app):
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            name = f"{method} {route.path_format}"
            if route.body_field is not None:
                body = operation["requestBody"]["content"].get(JSON)
                model = route.body_field.field_info.annotation
                yield from ((name, model, v) for v in _named_examples(body))
            if route.response_model is not None:
                answer = operation["responses"][str(route.status_code or 200)]["content"]
                model = route.response_model
                yield from ((name, model, v) for v in _named_examples(answer.get(JSON)))


def test_named_examples_are_accepted_by_the_route_models(
    app: FastAPI, document: dict[str, Any]
) -> None:
    refused = []
    for name, model, value in _route_examples(app, document):
        try:
            TypeAdapter(model).validate_python(value)
        except ValueError as exc:
            refused.append(f"{name}: {exc}")
    assert refused == [], "\n".join(refused)


def test_document_examples_add_up_as_the_api_computes(
    app: FastAPI, document: dict[str, Any]
) -> None:
    """Line amounts, totals and the booking number are what the API would answer."""
    answers = [DocumentOut.model_validate(v) for v in _model_examples(DocumentOut)]
    for _, model, value in _route_examples(app, document):
        if model is DocumentOut:
            answers.append(DocumentOut.model_validate(value))
        elif model is Page[DocumentOut]:
            answers += Page[DocumentOut].model_validate(value).data
    for out in answers:
        lines = [LineIn.model_validate(line.model_dump(include=LINE_FIELDS)) for line in out.lines]
        for line, given in zip(lines, out.lines, strict=True):
            assert totals.line_amounts(line) == (given.net_amount, given.vat_amount), out.number
        computed = totals.compute(lines)
        assert (out.totals.net, out.totals.vat, out.totals.gross) == (
            computed.net,
            computed.vat,
            computed.gross,
        ), out.number
        first = next((s.booking_number for s in out.sync if s.booking_number), None)
        assert out.booking_number == first, out.number
    assert {out.kind for out in answers} == {"invoice", "credit_note"}
    assert len(answers) >= 10


def test_integration_examples_use_settings_the_api_accepts(
    app: FastAPI, document: dict[str, Any]
) -> None:
    """Each connect example passes the per-system settings check; no answer shows a key."""
    connect = document["paths"]["/v1/clients/{client_id}/integrations"]["post"]
    bodies = _model_examples(IntegrationIn) + _named_examples(
        connect["requestBody"]["content"][JSON]
    )
    assert {body["system"] for body in bodies} == {"exact", "lexware", "yuki"}
    for body in bodies:
        validated_settings(body["system"], body["settings"])
    answers = [IntegrationOut.model_validate(v) for v in _model_examples(IntegrationOut)]
    for _, model, value in _route_examples(app, document):
        if model is IntegrationOut:
            answers.append(IntegrationOut.model_validate(value))
        elif model == list[IntegrationOut]:
            answers += [IntegrationOut.model_validate(v) for v in value]
    assert {answer.system for answer in answers} == {"exact", "lexware", "yuki"}
    assert all("access_key" not in answer.settings for answer in answers)
