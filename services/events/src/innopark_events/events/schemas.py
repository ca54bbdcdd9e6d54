"""Event request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from innopark_shared.schemas import Country, Input, Language, Patch
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    model_validator,
)

from ..fields import Text300
from ..models import Audience, EventFormat, EventStatus, EventType


def _valid_timezone(value: str) -> str:
    if value not in available_timezones():
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone name (e.g. Europe/Moscow)") from None
    return value


# An IANA zone name: starts_at/ends_at are kept with it, so the .ics keeps the zone.
TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_valid_timezone)
]
Capacity = Annotated[int, Field(ge=0, le=100_000)]
Description = Annotated[str, Field(max_length=20_000)]
Languages = Annotated[list[Language], Field(max_length=20)]


class EventCreate(Input):
    title: Text300
    type: EventType
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: Capacity
    description: Description | None = None
    format: EventFormat = EventFormat.IN_PERSON
    timezone: TimeZoneName = "UTC"
    venue: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    host_park_id: UUID | None = None
    city: str | None = Field(default=None, max_length=200)
    country: Country | None = None
    languages: Languages = Field(default_factory=list)
    audience: Audience = Audience.PUBLIC
    moderated: bool = False
    registration_opens_at: AwareDatetime | None = None
    registration_closes_at: AwareDatetime | None = None
    organiser_name: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _times(self) -> EventCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (
            self.registration_opens_at
            and self.registration_closes_at
            and self.registration_closes_at <= self.registration_opens_at
        ):
            raise ValueError("registration_closes_at must be after registration_opens_at")
        return self


class EventUpdate(Patch):
    """Fields to change; absent fields stay as they are, `null` clears an optional one."""

    not_null: ClassVar[frozenset[str]] = frozenset(
        {
            "title",
            "type",
            "format",
            "starts_at",
            "ends_at",
            "timezone",
            "capacity",
            "languages",
            "audience",
            "moderated",
        }
    )

    title: Text300 | None = None
    description: Description | None = None
    type: EventType | None = None
    format: EventFormat | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    timezone: TimeZoneName | None = None
    venue: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    host_park_id: UUID | None = None
    city: str | None = Field(default=None, max_length=200)
    country: Country | None = None
    languages: Languages | None = None
    audience: Audience | None = None
    capacity: Capacity | None = None
    moderated: bool | None = None
    registration_opens_at: AwareDatetime | None = None
    registration_closes_at: AwareDatetime | None = None
    organiser_name: str | None = Field(default=None, max_length=300)


class EventCancel(Input):
    reason: str | None = Field(default=None, max_length=2000)


class EventRead(BaseModel):
    id: UUID
    title: str
    description: str | None
    type: EventType
    format: EventFormat
    status: EventStatus
    starts_at: datetime
    ends_at: datetime
    timezone: str
    venue: str | None
    online_url: str | None
    host_park_id: UUID | None
    city: str | None
    country: str | None
    languages: list[str]
    audience: Audience
    capacity: int
    moderated: bool
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    organiser_name: str | None
    cancellation_reason: str | None
    travel_details_collected: bool
    created_at: datetime
    updated_at: datetime
