"""Residents as the API shows them to a given caller.

Public card: every field of `ResidentRead` but the contact fields (`CONTACT_FIELDS`),
which only the association, the managers of the resident's park and the company itself
read; to anyone else (anonymous callers included) they are null. Identifying a company
is public registry data; reaching its people is not.
"""

from __future__ import annotations

from innopark_shared.auth import Principal, Role

from ..models import Resident
from .schemas import ResidentRead

# The fields of a resident that only its own circle reads.
CONTACT_FIELDS = frozenset({"contact_email"})


def reads_contacts(viewer: Principal | None, resident: Resident) -> bool:
    """Operators, the managers of the resident's park, and the resident itself."""
    if viewer is None:
        return False
    return (
        viewer.is_operator
        or viewer.manages_park(resident.park_id)
        or (viewer.role is Role.RESIDENT and viewer.resident_id == resident.id)
    )


def present_resident(resident: Resident, viewer: Principal | None) -> ResidentRead:
    shown = ResidentRead.model_validate(resident, from_attributes=True)
    if reads_contacts(viewer, resident):
        return shown
    return shown.model_copy(update=dict.fromkeys(CONTACT_FIELDS))
