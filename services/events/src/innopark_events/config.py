"""Events settings (environment variables; see the README's configuration table)."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from innopark_shared.db import app_settings
from innopark_shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    service_name: str = "events"
    port: int = 8004

    # Public base URL used in links handed to registrants (cancel link) and in .ics URLs.
    public_base_url: str = "http://127.0.0.1:8000"
    # Calendar feed: how many upcoming events at most; the ORGANIZER address in .ics files
    # (left out when unset).
    ics_feed_limit: int = 500
    calendar_organiser_email: str | None = None
    # How often events whose registration window or dates have passed move on by themselves
    # (published -> registration_closed -> completed).
    lifecycle_sweep_interval_seconds: float = 30.0
    # Invitation letters: a Unicode TTF font (Cyrillic names); when the file is missing the
    # letter falls back to a core PDF font and non-Latin-1 characters are replaced.
    letter_font_path: str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    letter_issuer: str = "Association of Technological Parks in High-tech Area"
    letter_signatory: str = "Executive Director"


@lru_cache
def get_settings() -> EventsSettings:
    """The settings from the environment: for the command line and `create_app()` only;
    request code gets the app's settings through `SettingsDep`."""
    return EventsSettings()


# The settings the app was built with (`create_app(settings=...)`), in a route.
SettingsDep = Annotated[EventsSettings, Depends(app_settings)]
