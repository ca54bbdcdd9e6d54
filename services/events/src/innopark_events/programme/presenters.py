"""Programme sessions as the API answers them."""

from __future__ import annotations

from ..events.presenters import in_utc
from ..models import AgendaSession
from .schemas import SessionRead


def present_session(item: AgendaSession) -> SessionRead:
    read = SessionRead.model_validate(item)
    return read.model_copy(
        update={"starts_at": in_utc(read.starts_at), "ends_at": in_utc(read.ends_at)}
    )
