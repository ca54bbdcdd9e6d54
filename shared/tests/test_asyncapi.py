"""The AsyncAPI document covers every catalogued event, and keeps up as the catalogue grows."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

import pytest
from innopark_shared.asyncapi import build_asyncapi
from innopark_shared.contracts import catalogue
from innopark_shared.kafka import Envelope
from pydantic import BaseModel


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in all_refs(value)]
    return []


def assert_event_documented(document: dict[str, Any], event_type: str, cls: type) -> None:
    message = document["components"]["messages"].get(event_type)
    assert message is not None, f"{event_type} has no message"

    # The payload is the class's own JSON Schema.
    payload = resolve(document, message["payload"]["$ref"])
    expected = cls.model_json_schema()
    assert payload["type"] == "object"
    assert set(payload["properties"]) == set(expected["properties"]), event_type
    assert sorted(payload.get("required", [])) == sorted(expected.get("required", [])), event_type

    # It travels on its topic's channel, published by an operation on that channel.
    channel = document["channels"].get(cls.topic)
    assert channel is not None, f"no channel for topic {cls.topic}"
    assert channel["address"] == cls.topic
    assert resolve(document, channel["messages"][event_type]["$ref"]) is message
    published = [
        ref["$ref"]
        for operation in document["operations"].values()
        if operation["channel"]["$ref"] == f"#/channels/{cls.topic}"
        for ref in operation["messages"]
    ]
    assert f"#/channels/{cls.topic}/messages/{event_type}" in published

    # CloudEvents binary mode: attributes as headers, this type fixed.
    headers = message["headers"]["properties"]
    for name in ("ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion", "content-type"):
        assert name in headers, f"{event_type}: header {name} missing"
    assert headers["ce_type"]["const"] == event_type
    assert {"ce_id", "ce_type", "ce_source", "ce_specversion"} <= set(
        message["headers"]["required"]
    )

    # The message key is the aggregate id.
    assert cls.key_field in expected["properties"], f"{event_type}: key field not in payload"
    assert message["x-innopark-key-field"] == cls.key_field
    key = message["bindings"]["kafka"]["key"]
    assert key["type"] == "string"
    assert cls.key_field in key["description"]


def test_every_catalogued_event_is_documented() -> None:
    events = catalogue()
    assert events, "the catalogue is empty: contracts not imported?"
    document = build_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    for event_type, cls in events.items():
        assert_event_documented(document, event_type, cls)
    topics = {cls.topic for cls in events.values()}
    assert topics <= set(document["channels"])


def test_every_reference_resolves() -> None:
    document = build_asyncapi()
    refs = all_refs(document)
    assert refs
    for ref in refs:
        resolve(document, ref)
    # Nested models live in components, never in per-model $defs.
    assert "$defs" not in json.dumps(document)


def test_documented_headers_are_the_ones_the_relay_sends() -> None:
    envelope = Envelope(id="x", type="t", source="/innopark/test", time=datetime.now(UTC))
    sent = {name for name, _ in envelope.headers()}
    document = build_asyncapi()
    for message in document["components"]["messages"].values():
        if "ce_type" in message["headers"].get("required", []):
            assert sent == set(message["headers"]["properties"])


class _Line(BaseModel):
    sku: str
    quantity: int


class _WidgetOrderedV1(BaseModel):
    """A stand-in for a contract someone adds later, on a topic nobody uses yet."""

    event_type: ClassVar[str] = "org.innopark.test.widget.ordered.v1"
    topic: ClassVar[str] = "innopark.test.widgets"
    key_field: ClassVar[str] = "widget_id"

    widget_id: UUID
    lines: list[_Line]
    note: str | None = None


def test_a_new_contract_needs_no_change_to_the_generator() -> None:
    events = {**catalogue(), _WidgetOrderedV1.event_type: _WidgetOrderedV1}
    document = build_asyncapi(events)  # type: ignore[arg-type]
    assert_event_documented(document, _WidgetOrderedV1.event_type, _WidgetOrderedV1)
    assert "_Line" in document["components"]["schemas"]
    message = document["components"]["messages"][_WidgetOrderedV1.event_type]
    key = message["bindings"]["kafka"]["key"]
    assert key["format"] == "uuid"
    # The stand-in did not leak into the real catalogue.
    assert _WidgetOrderedV1.event_type not in build_asyncapi()["components"]["messages"]


@pytest.mark.timeout(60)
def test_the_module_prints_the_document() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "innopark_shared.asyncapi"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == build_asyncapi()


def test_each_service_documents_what_it_receives() -> None:
    """Receive operations come from the services' own `Subscriptions` (entry points), so
    they cannot drift from what the consumers really handle."""
    from innopark_shared.asyncapi import installed_subscriptions

    document = build_asyncapi()
    subscriptions = installed_subscriptions()
    assert set(subscriptions) == {"registry", "orders", "accreditation", "events", "gateway"}
    for service, subs in subscriptions.items():
        documented = set()
        for name, operation in document["operations"].items():
            if operation["action"] == "receive" and name.endswith(f".receive.{service}"):
                for message in operation["messages"]:
                    resolve(document, message["$ref"])  # the reference resolves
                    documented.add(message["$ref"].rsplit("/", 1)[-1])
        assert documented == set(subs.event_types), service
    # For example: the registry shows each park's accreditation from certificate events.
    registry = document["operations"]["innopark.accreditation.certificates.receive.registry"]
    assert registry["channel"] == {"$ref": "#/channels/innopark.accreditation.certificates"}
