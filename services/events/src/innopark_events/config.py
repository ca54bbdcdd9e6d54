"""Events settings (environment variables; see the README's configuration table)."""

from functools import lru_cache

from innopark_shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    service_name: str = "events"
    port: int = 8004


@lru_cache
def get_settings() -> EventsSettings:
    return EventsSettings()
