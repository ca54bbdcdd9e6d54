"""`/api/v1/registry/changes`: the change feed of the whole registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from innopark_shared.auth import CurrentPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from . import queries
from .presenters import present_change
from .schemas import Change, ChangeKind

router = APIRouter(prefix="/api/v1", tags=["changes"])


@router.get(
    "/registry/changes",
    response_model=Page[Change],
    summary="Change feed of the registry: what changed or was removed since a cursor "
    "(signed-in callers)",
    description=(
        "Parks, residents, clusters, agreements and KPI reports in commit order, each with "
        "its current state, or its removal. Start without a cursor, then ask again with "
        "`next_cursor`, which is always given: an empty page means nothing new yet. The "
        "feed never skips a change that commits late. Residents' contact details appear "
        "only to the association, the managers of their park and the company itself."
    ),
)
async def registry_changes(
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: CursorQuery = None,
    kind: Annotated[list[ChangeKind] | None, Query(description="Only these kinds")] = None,
    limit: LimitQuery = 100,
) -> Page[Change]:
    page = await queries.changes(session=session, cursor=cursor, limit=limit, kinds=kind)
    return Page[Change](
        items=[present_change(c, principal) for c in page.items], next_cursor=page.next_cursor
    )
