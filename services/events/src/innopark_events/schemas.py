"""Events request and response models."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)


class EventType(StrEnum):
    TRAINING = "training"
    FORUM = "forum"
    EXHIBITION = "exhibition"
    STRATEGIC_SESSION = "strategic_session"
    DELEGATION_VISIT = "delegation_visit"
    STUDY_TOUR = "study_tour"
    SIGNING_CEREMONY = "signing_ceremony"


# Event types whose participants may need a visa invitation letter.
TRAVEL_TYPES = frozenset({EventType.DELEGATION_VISIT, EventType.STUDY_TOUR})


class EventFormat(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    HYBRID = "hybrid"


class Audience(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    REGISTRATION_CLOSED = "registration_closed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ATTENDED = "attended"


def _valid_timezone(value: str) -> str:
    if value not in available_timezones():
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone name (e.g. Europe/Moscow)") from None
    return value


TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64),
                         AfterValidator(_valid_timezone)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
# Deliberately simple: the address is confirmed by the person reading their ticket mail.
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class _Input(BaseModel):
    """Request bodies: unknown fields refused, and no NUL characters (PostgreSQL cannot
    store them in text, and bad input must be a 422, not a 500)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class _EventFields(_Input):

    description: str | None = Field(default=None, max_length=20_000)
    format: EventFormat = EventFormat.IN_PERSON
    timezone: TimeZoneName = "UTC"
    venue: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    host_park_id: UUID | None = None
    city: str | None = Field(default=None, max_length=200)
    country: CountryCode | None = None
    languages: list[LanguageCode] = Field(default_factory=list, max_length=20)
    audience: Audience = Audience.PUBLIC
    moderated: bool = False
    registration_opens_at: AwareDatetime | None = None
    registration_closes_at: AwareDatetime | None = None
    organiser_name: str | None = Field(default=None, max_length=300)


class EventCreate(_EventFields):
    title: Text300
    type: EventType
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=0, le=100_000)

    @model_validator(mode="after")
    def _times(self) -> EventCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.registration_opens_at and self.registration_closes_at
                and self.registration_closes_at <= self.registration_opens_at):
            raise ValueError("registration_closes_at must be after registration_opens_at")
        return self


class EventUpdate(_Input):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    title: Text300 | None = None
    description: str | None = Field(default=None, max_length=20_000)
    type: EventType | None = None
    format: EventFormat | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    timezone: TimeZoneName | None = None
    venue: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    host_park_id: UUID | None = None
    city: str | None = Field(default=None, max_length=200)
    country: CountryCode | None = None
    languages: list[LanguageCode] | None = Field(default=None, max_length=20)
    audience: Audience | None = None
    capacity: int | None = Field(default=None, ge=0, le=100_000)
    moderated: bool | None = None
    registration_opens_at: AwareDatetime | None = None
    registration_closes_at: AwareDatetime | None = None
    organiser_name: str | None = Field(default=None, max_length=300)


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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


class EventPage(BaseModel):
    items: list[EventRead]
    next_cursor: str | None


class EventCancel(_Input):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=2000)


class SeatCounts(BaseModel):
    capacity: int
    confirmed: int
    attended: int
    waitlisted: int
    pending: int
    available: int


class TravelDetailsWrite(_Input):
    model_config = ConfigDict(extra="forbid", from_attributes=True)  # also read from rows

    passport_name: Text300 = Field(description="Name exactly as in the passport (Latin letters)")
    nationality: CountryCode
    date_of_birth: date
    passport_number: Annotated[str, StringConstraints(
        strip_whitespace=True, pattern=r"^[A-Za-z0-9 -]{4,40}$")]
    passport_expires_on: date | None = None
    stay_from: date
    stay_to: date

    @model_validator(mode="after")
    def _dates(self) -> TravelDetailsWrite:
        if self.stay_to < self.stay_from:
            raise ValueError("stay_to must not be before stay_from")
        if self.date_of_birth >= self.stay_from:
            raise ValueError("date_of_birth must be before the stay")
        if self.passport_expires_on and self.passport_expires_on < self.stay_to:
            raise ValueError("the passport expires before the end of the stay")
        return self


class TravelDetailsRead(TravelDetailsWrite):
    registration_id: UUID
    updated_at: datetime


class RegistrationCreate(_Input):
    model_config = ConfigDict(extra="forbid")

    full_name: Text300
    email: Email
    organisation: str | None = Field(default=None, max_length=300)
    position: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    travel: TravelDetailsWrite | None = None


class RegistrationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    event_id: UUID
    full_name: str
    email: str
    organisation: str | None
    position: str | None
    phone: str | None
    status: RegistrationStatus
    ticket_code: str | None
    checked_in_at: datetime | None
    decision_reason: str | None
    created_at: datetime
    updated_at: datetime
    waitlist_position: int | None = Field(
        default=None, description="On a single registration read: 1 = next to get a seat")


class RegistrationCreated(RegistrationRead):
    """Returned once, at registration: the private token is not stored and not shown again."""

    token: str = Field(description="Private token: read, cancel, travel details, letter")
    cancel_url: str


class RegistrationPage(BaseModel):
    items: list[RegistrationRead]
    next_cursor: str | None


class RegistrationDecision(_Input):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=2000)


class CheckIn(_Input):
    model_config = ConfigDict(extra="forbid")
    ticket_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                  max_length=64)]


class SessionCreate(_Input):
    title: Text300
    description: str | None = Field(default=None, max_length=10_000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    room: str | None = Field(default=None, max_length=200)
    speakers: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=50)
    language: LanguageCode | None = None

    @model_validator(mode="after")
    def _times(self) -> SessionCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    event_id: UUID
    title: str
    description: str | None
    starts_at: datetime
    ends_at: datetime
    room: str | None
    speakers: list[str]
    language: str | None


class SessionPage(BaseModel):
    items: list[SessionRead]
    next_cursor: str | None
