"""Programme sessions as the API answers them."""

from __future__ import annotations

from ..models import AgendaSession
from .schemas import SessionRead


def present_session(item: AgendaSession) -> SessionRead:
    return SessionRead.model_validate(item)
