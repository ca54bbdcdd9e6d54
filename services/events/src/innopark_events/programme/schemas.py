"""Programme session request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from innopark_shared.schemas import Input, Language
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..fields import Text300

Speaker = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class SessionCreate(Input):
    title: Text300
    description: str | None = Field(default=None, max_length=10_000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    room: str | None = Field(default=None, max_length=200)
    speakers: list[Speaker] = Field(default_factory=list, max_length=50)
    language: Language | None = None

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
