"""The base of every integration event and the catalogue of known event types."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

_CATALOGUE: dict[str, type[IntegrationEvent]] = {}


class IntegrationEvent(BaseModel):
    """A past-tense, versioned fact one service publishes for others.

    Changes to a version are additive only; a breaking change is a new class (`...V2`)
    published side by side during the switch. Consumers ignore fields they do not know.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    # CloudEvents `type`, e.g. "org.innopark.registry.park.created.v1".
    event_type: ClassVar[str]
    # Kafka topic; one per aggregate stream so ordering per aggregate holds.
    topic: ClassVar[str]
    # Field holding the aggregate id, used as the message key.
    key_field: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        # The catalogue (and so the AsyncAPI document) holds the platform's contracts only,
        # not stand-ins that tests declare.
        if event_type and cls.__module__.startswith(__package__ + "."):
            if event_type in _CATALOGUE and _CATALOGUE[event_type] is not cls:
                raise TypeError(f"event type {event_type} declared twice")
            _CATALOGUE[event_type] = cls

    @property
    def key(self) -> str:
        return str(getattr(self, self.key_field))


def event_class(event_type: str) -> type[IntegrationEvent] | None:
    return _CATALOGUE.get(event_type)


def catalogue() -> dict[str, type[IntegrationEvent]]:
    return dict(_CATALOGUE)
