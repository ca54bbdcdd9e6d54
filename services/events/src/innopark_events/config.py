"""Events settings (environment variables; see the README's configuration table)."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from innopark_shared.db import app_settings
from innopark_shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    service_name: str = "events"
    port: int = 8004

    # Calendar feed: how many upcoming events at most; the ORGANIZER address in .ics files
    # (left out when unset).
    ics_feed_limit: int = 500
    calendar_organiser_email: str | None = None
    # How often events whose registration window or dates have passed move on by themselves
    # (published -> registration_closed -> completed).
    lifecycle_sweep_interval_seconds: float = 30.0
    # Invitation letters: a Unicode TTF font for Latin and Cyrillic names, then fallback
    # fonts (TTF, OTF or a TTC collection) for the characters it lacks, such as Chinese.
    # `make dev-env` and the images install both (deploy/system-packages.txt); a
    # character no installed font has is logged with the letter it is missing from.
    letter_font_path: str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    letter_fallback_font_paths: list[str] = [
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    ]
    letter_issuer: str = "Association of Technological Parks in High-tech Area"
    letter_signatory: str = "Executive Director"


@lru_cache
def get_settings() -> EventsSettings:
    """The settings from the environment: for the command line and `create_app()` only;
    request code gets the app's settings through `SettingsDep`."""
    return EventsSettings()


# The settings the app was built with (`create_app(settings=...)`), in a route.
SettingsDep = Annotated[EventsSettings, Depends(app_settings)]
