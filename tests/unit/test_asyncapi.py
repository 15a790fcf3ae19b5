"""The checked-in AsyncAPI document (docs/asyncapi.yaml) is what the code generates, and
it documents every event and topic the code knows.

After changing an event or a topic:
    uv run python -m invoicesync_shared.events.asyncapi > docs/asyncapi.yaml
"""

from __future__ import annotations

import difflib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from invoicesync_shared.events import asyncapi, topic_settings, topics
from invoicesync_shared.events.envelope import Envelope

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "docs" / "asyncapi.yaml"
REGENERATE = "uv run python -m invoicesync_shared.events.asyncapi > docs/asyncapi.yaml"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_checked_in_document_matches_the_code() -> None:
    generated = asyncapi.render()
    checked_in = CHECKED_IN.read_text()
    if generated != checked_in:
        diff = "".join(
            list(
                difflib.unified_diff(
                    checked_in.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    "docs/asyncapi.yaml",
                    "generated",
                )
            )[:60]
        )
        raise AssertionError(f"docs/asyncapi.yaml is stale; run `{REGENERATE}`\n{diff}")


def test_every_event_and_topic_is_documented() -> None:
    document = yaml.safe_load(CHECKED_IN.read_text())
    assert document["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == set(topics.all_topics())
    messages = document["components"]["messages"]
    documented_types = {m["name"] for m in messages.values()}
    for cls in asyncapi.event_classes():
        assert cls.TYPE in documented_types, cls
        message = messages[cls.__name__]
        assert message["headers"]["properties"]["ce_type"]["const"] == cls.TYPE
        assert cls.__name__ in document["components"]["schemas"]
    for channel in document["channels"].values():
        kafka = channel["bindings"]["kafka"]
        settings = topic_settings.TOPIC_SETTINGS[channel["address"]]
        assert kafka["partitions"] == settings.partitions
        assert kafka["topicConfiguration"]["retention.ms"] == settings.retention_ms


def test_every_reference_resolves() -> None:
    document = yaml.safe_load(CHECKED_IN.read_text())
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        _resolve(document, ref)


def test_an_event_in_a_new_module_is_picked_up() -> None:
    # Any Event subclass with a TYPE of its own is found, wherever it is defined. In a
    # child process, so the probe class cannot leak into the other tests' documents.
    probe = textwrap.dedent(
        """
        from invoicesync_shared.events import asyncapi, topics
        from invoicesync_shared.events.envelope import Event

        class ProbeEvent(Event):
            TYPE = "com.invoicesync.test.probe"
            TOPIC = topics.SYNC_RESULTS
            value: int

        document = asyncapi.build_document()
        assert "ProbeEvent" in document["channels"]["syncResults"]["messages"]
        assert "ProbeEvent" in document["components"]["schemas"]
        """
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)


def test_headers_match_what_the_envelope_writes() -> None:
    envelope = Envelope(
        type="com.invoicesync.invoice.booked",
        source="/api",
        subject="doc",
        key="client",
        data={},
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    written = set(envelope.to_kafka().headers)
    document = asyncapi.build_document()
    headers = document["components"]["messages"]["InvoiceBooked"]["headers"]
    assert written == set(headers["properties"])
    assert set(headers["required"]) == written - {"ce_traceparent"}
