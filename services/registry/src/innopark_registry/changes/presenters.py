"""Feed entries as the API shows them: the same views as each collection's own reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from innopark_shared.auth import Principal

from ..cooperation.presenters import present_agreement, present_cluster
from ..kpi.presenters import present_kpi_report
from ..parks.presenters import present_park
from ..residents.presenters import present_resident
from .queries import FeedRow
from .schemas import Change

PRESENTERS: dict[str, Callable[[Any, Principal], Any]] = {
    "park": lambda row, _: present_park(row),
    "resident": present_resident,  # contact details for its own circle only
    "cluster": lambda row, _: present_cluster(row),
    "agreement": lambda row, _: present_agreement(row),
    "kpi_report": lambda row, _: present_kpi_report(row),
}


def present_change(change: FeedRow, principal: Principal) -> Change:
    row = change.row
    if getattr(row, "removed_at", None) is not None:
        return Change(
            kind=change.kind,
            id=row.id,
            changed_at=row.updated_at,
            removed=True,
            removed_at=row.removed_at,
        )
    state = PRESENTERS[change.kind](row, principal)
    return Change(kind=change.kind, id=row.id, changed_at=row.updated_at, **{change.kind: state})
