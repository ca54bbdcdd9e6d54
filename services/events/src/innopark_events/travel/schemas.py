"""Travel details request and response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from innopark_shared.schemas import Country, Input
from pydantic import BaseModel, Field, StringConstraints, model_validator

from ..fields import Text300

PassportNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{4,40}$")]


class TravelDetailsWrite(Input):
    """Passport and stay details, written whole (at registration, or by PUT)."""

    passport_name: Text300 = Field(description="Name exactly as in the passport (Latin letters)")
    nationality: Country
    date_of_birth: date
    passport_number: PassportNumber
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


class TravelDetailsRead(BaseModel):
    registration_id: UUID
    passport_name: str
    nationality: str
    date_of_birth: date
    passport_number: str
    passport_expires_on: date | None
    stay_from: date
    stay_to: date
    updated_at: datetime
