"""Accreditation settings (environment variables; see the README's configuration table)."""

from functools import lru_cache

from innopark_shared.settings import ServiceSettings


class AccreditationSettings(ServiceSettings):
    service_name: str = "accreditation"
    port: int = 8003


@lru_cache
def get_settings() -> AccreditationSettings:
    return AccreditationSettings()
