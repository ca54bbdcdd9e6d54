"""Residents as the API shows them."""

from __future__ import annotations

from ..models import Resident
from .schemas import ResidentRead


def present_resident(resident: Resident) -> ResidentRead:
    return ResidentRead.model_validate(resident, from_attributes=True)
