"""Registry settings (environment variables; see the README's configuration table)."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from innopark_shared.db import app_settings
from innopark_shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    service_name: str = "registry"
    port: int = 8001


# Routes that need settings take them from the app they run in, never from a global.
SettingsDep = Annotated[RegistrySettings, Depends(app_settings)]


@lru_cache
def get_settings() -> RegistrySettings:
    return RegistrySettings()
