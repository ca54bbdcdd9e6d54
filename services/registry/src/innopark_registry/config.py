"""Registry settings (environment variables; see the README's configuration table)."""

from functools import lru_cache

from innopark_shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    service_name: str = "registry"
    port: int = 8001


@lru_cache
def get_settings() -> RegistrySettings:
    return RegistrySettings()
