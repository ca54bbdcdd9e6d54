"""Registration request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from innopark_shared.schemas import Email, Input
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..fields import Text300
from ..models import RegistrationStatus
from ..travel.schemas import TravelDetailsWrite


class RegistrationCreate(Input):
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
        default=None, description="On a single registration read: 1 = next to get a seat"
    )


class RegistrationCreated(RegistrationRead):
    """Returned once, at registration: the private token is not stored and not shown again."""

    token: str = Field(
        description="Private token: read, cancel, travel details, letter; send it in the "
        "X-Registration-Token header (never in a URL)"
    )
    cancel_url: str = Field(
        description="POST here with the X-Registration-Token header to cancel (under the "
        "platform's public base URL)"
    )


class RegistrationDecision(Input):
    reason: str | None = Field(default=None, max_length=2000)


TicketCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CheckIn(Input):
    ticket_code: TicketCode


class SeatCounts(BaseModel):
    capacity: int
    confirmed: int
    attended: int
    waitlisted: int
    pending: int
    available: int
