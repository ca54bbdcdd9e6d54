"""The AsyncAPI 3.0 document of the platform's integration events, built from the contracts.

Generated, never written by hand: every event class in the catalogue becomes a message on
its topic's channel, with its JSON Schema, the CloudEvents binary-mode headers and the
aggregate id as the Kafka key. `python -m innopark_shared.asyncapi > asyncapi.json`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Any

from pydantic.json_schema import models_json_schema

from .consumer import dead_letter_topic
from .contracts import IntegrationEvent, catalogue
from .kafka import SPECVERSION
from .subscriptions import SUBSCRIPTIONS_ENTRY_POINTS, Subscriptions

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SCHEMA_REF = "#/components/schemas/{model}"
DEAD_LETTER_CHANNEL = "deadLetter"


def installed_subscriptions() -> dict[str, Subscriptions]:
    """{service name: its subscriptions} for every service installed beside this library."""
    found = {}
    for point in entry_points(group=SUBSCRIPTIONS_ENTRY_POINTS):
        subscriptions = point.load()
        if isinstance(subscriptions, Subscriptions):
            found[point.name] = subscriptions
    return dict(sorted(found.items()))


def build_asyncapi(
    events: Mapping[str, type[IntegrationEvent]] | None = None,
    receivers: Mapping[str, Subscriptions] | None = None,
) -> dict[str, Any]:
    """The AsyncAPI document for `events` ({CloudEvents type: event class}; by default the
    whole catalogue): one channel per topic, one message per event type, a send operation
    per topic and a receive operation per consuming service and topic (`receivers`; by
    default the installed services')."""
    events = dict(catalogue() if events is None else events)
    receivers = installed_subscriptions() if receivers is None else receivers
    by_type = dict(sorted(events.items()))

    # One pass over every model, so nested models shared by several events become one
    # component, and pydantic disambiguates classes that share a name.
    refs, definitions = models_json_schema(
        [(cls, "validation") for cls in by_type.values()], ref_template=SCHEMA_REF
    )
    schemas: dict[str, Any] = dict(sorted(definitions.get("$defs", {}).items()))

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for event_type, cls in by_type.items():
        payload_ref = refs[(cls, "validation")]
        payload_schema = schemas[payload_ref["$ref"].rsplit("/", 1)[-1]]
        messages[event_type] = _message(event_type, cls, payload_ref, payload_schema)
        channel = channels.setdefault(
            cls.topic,
            {
                "address": cls.topic,
                "title": cls.topic,
                "description": (
                    "Kafka topic; the message key is the aggregate id, so events about one "
                    "aggregate keep their order."
                ),
                "messages": {},
                "bindings": {
                    "kafka": {"topic": cls.topic, "bindingVersion": KAFKA_BINDING_VERSION}
                },
            },
        )
        channel["messages"][event_type] = {"$ref": f"#/components/messages/{event_type}"}

    for topic, channel in sorted(channels.items()):
        operations[f"{topic}.publish"] = {
            "action": "send",
            "title": f"Publish to {topic}",
            "summary": "Written to the owner's outbox in the state change's transaction, "
            "then relayed to Kafka (at least once: consumers deduplicate by ce_id).",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [
                {"$ref": f"#/channels/{topic}/messages/{event_type}"}
                for event_type in channel["messages"]
            ],
        }

    for service, subscriptions in sorted(receivers.items()):
        for topic in subscriptions.topics:
            handled = [
                t
                for t in subscriptions.event_types
                if t in channels.get(topic, {}).get("messages", {})
            ]
            if not handled:
                continue
            operations[f"{topic}.receive.{service}"] = {
                "action": "receive",
                "title": f"{service} receives {topic}",
                "summary": f"{service} keeps a local read model from these events: an inbox "
                "drops redeliveries, offsets are committed after its database commit.",
                "channel": {"$ref": f"#/channels/{topic}"},
                "messages": [
                    {"$ref": f"#/channels/{topic}/messages/{event_type}"} for event_type in handled
                ],
                "bindings": {
                    "kafka": {
                        "groupId": {"type": "string", "enum": [service]},
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                },
            }

    channels[DEAD_LETTER_CHANNEL] = _dead_letter_channel()
    operations["deadLetter.publish"] = {
        "action": "send",
        "title": "Dead-letter a message",
        "summary": "A consumer that keeps failing on a message parks it here after bounded "
        "retries, so it never blocks its partition.",
        "channel": {"$ref": f"#/channels/{DEAD_LETTER_CHANNEL}"},
        "messages": [{"$ref": f"#/channels/{DEAD_LETTER_CHANNEL}/messages/deadLettered"}],
    }
    messages["deadLettered"] = _dead_letter_message()

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:org:innopark:integration-events",
        "info": {
            "title": "Innopark integration events",
            "version": _version(),
            "description": (
                "Events the Innopark services publish to one another through Kafka. "
                "Envelope: CloudEvents 1.0 in Kafka binary content mode (attributes in "
                "`ce_*` headers, JSON data in the value). Message key: the aggregate id. "
                "Payloads are versioned: a version only ever gains fields; a breaking "
                "change is a new type (`...v2`) published side by side. Consumers ignore "
                "fields they do not know."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "compose": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "The broker in docker-compose.yml.",
            },
            "development": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The dev runner's embedded broker (`make up`).",
            },
        },
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": messages, "schemas": schemas},
    }


def _message(
    event_type: str,
    cls: type[IntegrationEvent],
    payload_ref: dict[str, str],
    payload_schema: dict[str, Any],
) -> dict[str, Any]:
    key_schema: dict[str, Any] = {"type": "string"}
    key_format = payload_schema.get("properties", {}).get(cls.key_field, {}).get("format")
    if key_format:
        key_schema["format"] = key_format
    key_schema["description"] = f"The aggregate id: the event's `{cls.key_field}`."
    message: dict[str, Any] = {
        "name": cls.__name__,
        "title": cls.__name__,
        "contentType": "application/json",
        "headers": cloudevents_headers(event_type),
        "payload": payload_ref,
        "bindings": {"kafka": {"key": key_schema, "bindingVersion": KAFKA_BINDING_VERSION}},
        "x-innopark-key-field": cls.key_field,
    }
    doc = (cls.__doc__ or "").strip()
    if doc and doc != (IntegrationEvent.__doc__ or "").strip():
        message["summary"] = doc.splitlines()[0]
        message["description"] = doc
    return message


def cloudevents_headers(event_type: str | None = None) -> dict[str, Any]:
    """The Kafka headers of a CloudEvent in binary content mode (innopark_shared.kafka.Envelope)."""
    ce_type: dict[str, Any] = {"type": "string", "description": "CloudEvents `type`."}
    if event_type is not None:
        ce_type["const"] = event_type
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "content-type"],
        "properties": {
            "ce_specversion": {
                "type": "string",
                "const": SPECVERSION,
                "description": "CloudEvents `specversion`.",
            },
            "ce_id": {
                "type": "string",
                "format": "uuid",
                "description": "CloudEvents `id`: unique per event; consumers deduplicate on it.",
            },
            "ce_type": ce_type,
            "ce_source": {
                "type": "string",
                "format": "uri-reference",
                "description": "CloudEvents `source`: the publishing service "
                "(`/innopark/<service>`).",
            },
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "CloudEvents `time`: when the change was recorded (RFC 3339, UTC).",
            },
            "content-type": {
                "type": "string",
                "const": "application/json",
                "description": "CloudEvents `datacontenttype` of the message value.",
            },
        },
    }


def _dead_letter_channel() -> dict[str, Any]:
    return {
        "address": dead_letter_topic("{topic}", "{group}"),
        "title": "Dead letters",
        "description": "One dead-letter topic per source topic and consumer group.",
        "parameters": {
            "topic": {"description": "The topic the message was read from."},
            "group": {"description": "The consumer group (service) that gave up on it."},
        },
        "messages": {"deadLettered": {"$ref": "#/components/messages/deadLettered"}},
    }


def _dead_letter_message() -> dict[str, Any]:
    # The original may not have been a valid CloudEvent at all: only the x-dlt-* are sure.
    headers = cloudevents_headers()
    headers["properties"].update(
        {
            "x-dlt-error": {"type": "string", "description": "Why processing failed."},
            "x-dlt-original-topic": {"type": "string"},
            "x-dlt-original-partition": {"type": "string"},
            "x-dlt-original-offset": {"type": "string"},
            "x-dlt-failed-at": {"type": "string", "description": "Unix time, seconds."},
        }
    )
    headers["required"] = ["x-dlt-error", "x-dlt-original-topic"]
    return {
        "name": "DeadLettered",
        "title": "Dead-lettered message",
        "summary": "The original key, value and headers, plus why and where it failed.",
        "headers": headers,
        "payload": {"description": "The original message value, unchanged."},
    }


def _version() -> str:
    try:
        return version("innopark-shared")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0.0.0"


def main() -> None:
    json.dump(build_asyncapi(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
