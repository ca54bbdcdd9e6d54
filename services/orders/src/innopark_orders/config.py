"""Orders settings (environment variables; see the README's configuration table)."""

from functools import lru_cache

from innopark_shared.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    port: int = 8002


@lru_cache
def get_settings() -> OrdersSettings:
    return OrdersSettings()
