"""The AsyncAPI 3 document of every topic and event, built from the code.

Every ``Event`` subclass with a ``TYPE`` of its own, in any module of this package
(modules added later included), becomes a message on its ``TOPIC``; payload schemas come
from ``model_json_schema``. Messages travel as CloudEvents 1.0 in Kafka binary mode
(``ce_*`` headers, JSON body), keyed by client id. Each channel shows its topic's
production settings, ``TOPIC_SETTINGS`` in ``topic_settings``.

Regenerate the checked-in document (a test fails while it differs)::

    uv run python -m invoicesync_shared.events.asyncapi > docs/asyncapi.yaml
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel

from invoicesync_shared import events
from invoicesync_shared.events import topics
from invoicesync_shared.events.envelope import Event
from invoicesync_shared.events.topic_settings import API_RESULTS_GROUP, TOPIC_SETTINGS
from invoicesync_shared.events.undeliverable import Undeliverable

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
# Modules of this package not imported to find events (this one).
_SKIP_MODULES = {"asyncapi"}


def event_classes() -> list[type[Event]]:
    """Every concrete event (one with a ``TYPE`` of its own), sorted by topic and type."""
    for module in pkgutil.iter_modules(events.__path__):
        if module.name not in _SKIP_MODULES:
            importlib.import_module(f"{events.__name__}.{module.name}")
    found: dict[str, type[Event]] = {}
    pending: list[type[Event]] = [Event]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "TYPE" in cls.__dict__:
            other = found.setdefault(cls.TYPE, cls)
            if other is not cls:
                raise ValueError(f"{cls.TYPE} is declared by {other} and {cls}")
    return sorted(found.values(), key=lambda c: (c.TOPIC, c.TYPE))


def _doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split())


def _headers(ce_type: str, ce_source: str) -> dict[str, Any]:
    """CloudEvents Kafka protocol binding, binary mode: attributes as ``ce_*`` headers."""
    return {
        "type": "object",
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_type",
            "ce_source",
            "ce_subject",
            "ce_time",
            "content-type",
        ],
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {
                "type": "string",
                "description": "Unique per event; consumers deduplicate by it.",
            },
            "ce_type": {"type": "string", "const": ce_type},
            "ce_source": {"type": "string", "description": ce_source},
            "ce_subject": {
                "type": "string",
                "description": "The document id (a dead-lettered undecodable record: "
                "topic/partition/offset).",
            },
            "ce_time": {"type": "string", "format": "date-time"},
            "content-type": {"type": "string", "const": "application/json"},
            "ce_traceparent": {
                "type": "string",
                "description": "W3C trace context (CloudEvents distributed tracing "
                "extension); optional.",
            },
        },
    }


def _message(
    name: str, ce_type: str, ce_source: str, summary: str, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": ce_type,
        "title": name,
        "summary": summary or ce_type,
        "contentType": "application/json",
        "headers": _headers(ce_type, ce_source),
        "payload": payload,
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "format": "uuid",
                    "description": "The client (tenant) id: one client's events stay in "
                    "order on one partition.",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """Each model's JSON schema and its nested models, all under components/schemas."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, nested in schema.pop("$defs", {}).items():
            schemas.setdefault(name, nested)
        schemas[model.__name__] = schema
    return dict(sorted(schemas.items()))


def _channel(topic: str, title: str, messages: list[str]) -> dict[str, Any]:
    settings = TOPIC_SETTINGS[topic]
    return {
        "address": topic,
        "title": title,
        "description": settings.description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
        "bindings": {
            "kafka": {
                "topic": topic,
                "partitions": settings.partitions,
                "replicas": settings.replicas,
                "topicConfiguration": {
                    "cleanup.policy": ["delete"],
                    "retention.ms": settings.retention_ms,
                    "min.insync.replicas": settings.min_insync_replicas,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _operation(
    action: str, channel: str, messages: list[str], summary: str, group: str | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in messages],
    }
    if group is not None:
        operation["bindings"] = {
            "kafka": {
                "groupId": {"type": "string", "enum": [group]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    return operation


def _source(topic: str) -> str:
    if topic == topics.DOCUMENTS:
        return "/api (the outbox relay)."
    return "The connector: /connectors/<system>."


def build_document() -> dict[str, Any]:
    """The whole AsyncAPI document as plain data, deterministic for the same code."""
    classes = event_classes()
    unknown = {c.TOPIC for c in classes} - set(TOPIC_SETTINGS)
    if unknown:
        raise ValueError(f"events on topics without settings: {sorted(unknown)}")
    by_topic: dict[str, list[str]] = {}
    messages: dict[str, Any] = {}
    for cls in classes:
        by_topic.setdefault(cls.TOPIC, []).append(cls.__name__)
        messages[cls.__name__] = _message(
            cls.__name__,
            cls.TYPE,
            _source(cls.TOPIC),
            _doc(cls),
            {"$ref": f"#/components/schemas/{cls.__name__}"},
        )
    # Dead letters: a sync request as it came (one target) plus the reason, or a raw record.
    dead: list[str] = []
    for name in by_topic.get(topics.DOCUMENTS, []):
        cls = next(c for c in classes if c.__name__ == name)
        messages[f"DeadLettered{name}"] = _message(
            f"DeadLettered{name}",
            cls.TYPE,
            "The connector that gave up: /connectors/<system>.",
            f"{name} with the one target that failed, after the retry budget.",
            {
                "allOf": [
                    {"$ref": f"#/components/schemas/{name}"},
                    {
                        "type": "object",
                        "required": ["dead_letter_reason"],
                        "properties": {"dead_letter_reason": {"type": "string"}},
                    },
                ]
            },
        )
        dead.append(f"DeadLettered{name}")
    messages["Undeliverable"] = _message(
        "Undeliverable",
        Undeliverable.TYPE,
        "The connector: /connectors/<system>.",
        _doc(Undeliverable),
        {"$ref": "#/components/schemas/Undeliverable"},
    )
    dead.append("Undeliverable")

    channels: dict[str, Any] = {
        "documents": _channel(topics.DOCUMENTS, "Sync requests", by_topic[topics.DOCUMENTS]),
        "syncResults": _channel(topics.SYNC_RESULTS, "Sync results", by_topic[topics.SYNC_RESULTS]),
    }
    operations: dict[str, Any] = {
        "publishSyncRequests": _operation(
            "send",
            "documents",
            by_topic[topics.DOCUMENTS],
            "The API's outbox relay publishes what was committed with the document.",
        ),
        "consumeSyncResults": _operation(
            "receive",
            "syncResults",
            by_topic[topics.SYNC_RESULTS],
            "The API records each outcome in the document's sync state.",
            API_RESULTS_GROUP,
        ),
    }
    for system in topics.SYSTEMS:
        key = f"deadLetter{system.capitalize()}"
        channels[key] = _channel(
            topics.dead_letter_topic(system), f"Dead letters of connector-{system}", dead
        )
        operations[f"{system}ConsumesSyncRequests"] = _operation(
            "receive",
            "documents",
            by_topic[topics.DOCUMENTS],
            f"connector-{system} pushes the document for each {system} target.",
            f"connector-{system}",
        )
        operations[f"{system}PublishesSyncResults"] = _operation(
            "send",
            "syncResults",
            by_topic[topics.SYNC_RESULTS],
            f"connector-{system} reports each push.",
        )
        operations[f"{system}PublishesDeadLetters"] = _operation(
            "send", key, dead, f"connector-{system} parks what it gave up on."
        )

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "invoicesync events",
            "version": _version(),
            "description": (
                "Topics and events between the invoicesync API and its connectors. Every "
                "message is a CloudEvent 1.0 in Kafka binary mode (attributes in ce_* "
                "headers, JSON data as the value), keyed by client id. Schemas only grow "
                "by optional fields; readers ignore unknown fields. Generated by "
                "invoicesync_shared.events.asyncapi; do not edit by hand."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Apache Kafka (KRaft); INVOICESYNC_KAFKA_BOOTSTRAP.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": dict(sorted(messages.items())),
            "schemas": _schemas([*classes, Undeliverable]),
        },
    }


def _version() -> str:
    try:
        return version("invoicesync-shared")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0.0.0"


def render() -> str:
    """The document as YAML, as checked in at docs/asyncapi.yaml."""
    import yaml  # a development tool: PyYAML comes with the dev dependencies

    header = (
        "# Generated by invoicesync_shared.events.asyncapi; do not edit by hand.\n"
        "# Regenerate: uv run python -m invoicesync_shared.events.asyncapi > docs/asyncapi.yaml\n"
    )
    body = str(yaml.safe_dump(build_document(), sort_keys=False, allow_unicode=True, width=100))
    return header + body


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
