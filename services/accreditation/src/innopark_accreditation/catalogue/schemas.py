"""Criteria catalogue request and response models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from innopark_shared.schemas import Input
from pydantic import BaseModel, Field, model_validator


class CatalogueStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class CriterionCreate(Input):
    code: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    weight: float = Field(gt=0, le=100)
    scale_min: int = Field(default=0, ge=0, le=100)
    scale_max: int = Field(default=5, ge=1, le=100)
    mandatory: bool = False
    # Mean expert score a mandatory criterion needs; default: the middle of the scale.
    pass_score: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _scale(self) -> CriterionCreate:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be greater than scale_min")
        if self.pass_score is not None and not self.scale_min <= self.pass_score <= self.scale_max:
            raise ValueError("pass_score must lie within the scale")
        return self


class HeadingCreate(Input):
    title: str = Field(min_length=1, max_length=300)
    criteria: list[CriterionCreate] = Field(min_length=1, max_length=100)


class CatalogueCreate(Input):
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    # Level name -> minimum total (0..100) for the level, e.g. {"gold": 85, "silver": 70}.
    levels: dict[str, float] = Field(min_length=1, max_length=10)
    headings: list[HeadingCreate] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> CatalogueCreate:
        codes = [c.code for h in self.headings for c in h.criteria]
        if len(codes) != len(set(codes)):
            raise ValueError("criterion codes must be unique within a catalogue")
        for name, threshold in self.levels.items():
            if not (1 <= len(name) <= 40) or not 0 <= threshold <= 100:
                raise ValueError("levels map names (1..40 chars) to totals between 0 and 100")
        return self


class CriterionRead(BaseModel):
    id: UUID
    code: str
    title: str
    description: str | None
    weight: float
    scale_min: int
    scale_max: int
    mandatory: bool
    pass_score: int


class HeadingRead(BaseModel):
    title: str
    criteria: list[CriterionRead]


class CatalogueRead(BaseModel):
    id: UUID
    number: int
    title: str
    description: str | None
    status: CatalogueStatus
    levels: dict[str, float]
    published_at: datetime | None
    created_at: datetime
    headings: list[HeadingRead]
