"""Parks as the API shows them (built in the api layer from the domain rows)."""

from __future__ import annotations

from ..models import Park
from .accreditation import ParkLike, current_accreditation
from .schemas import Accreditation, ParkChange, ParkRead, ParkSuggestion

_PLAIN_FIELDS = [name for name in ParkRead.model_fields if name != "accreditation"]


def present_accreditation(park: ParkLike) -> Accreditation:
    current = current_accreditation(park)
    return Accreditation(
        status=current.status,
        certificate_number=current.certificate_number,
        level=current.level,
        issued_on=current.issued_on,
        valid_until=current.valid_until,
    )


def present_park(park: ParkLike) -> ParkRead:
    return ParkRead(
        **{name: getattr(park, name) for name in _PLAIN_FIELDS},
        accreditation=present_accreditation(park),
    )


def present_suggestion(park: Park) -> ParkSuggestion:
    return ParkSuggestion(
        id=park.id, name=park.name, name_en=park.name_en, kind=park.kind, region=park.region
    )


def present_change(park: Park) -> ParkChange:
    """A removal, or the park's current state."""
    if park.removed_at is not None:
        return ParkChange(
            change_seq=park.change_seq, park_id=park.id, removed=True, removed_at=park.removed_at
        )
    return ParkChange(
        change_seq=park.change_seq, park_id=park.id, removed=False, park=present_park(park)
    )
