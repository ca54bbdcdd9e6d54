"""Travel details as the API answers them."""

from __future__ import annotations

from ..models import TravelDetails
from .schemas import TravelDetailsRead


def present_travel_details(details: TravelDetails) -> TravelDetailsRead:
    return TravelDetailsRead.model_validate(details, from_attributes=True)
