"""What the routes of every package share: who may call (by role), the `If-Match`
header, the `ETag` of what they answer, and the optional body of an action (its why)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Response
from innopark_shared.auth import Principal, Role, require_roles
from innopark_shared.http import etag_of
from innopark_shared.schemas import Input
from pydantic import Field

PartnerPrincipal = Annotated[Principal, Depends(require_roles(Role.PARTNER))]
PartnerOrOperator = Annotated[Principal, Depends(require_roles(Role.PARTNER, Role.OPERATOR))]
Proposer = Annotated[Principal, Depends(require_roles(Role.RESIDENT, Role.PARK_MANAGER))]
OrderReader = Annotated[
    Principal,
    Depends(require_roles(Role.OPERATOR, Role.PARTNER, Role.RESIDENT, Role.PARK_MANAGER)),
]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def tag(response: Response, resource_id: Any, version: int) -> None:
    """The `ETag` header of a single resource."""
    response.headers["ETag"] = etag_of(resource_id, version)


class ReasonBody(Input):
    """Why, for the history (optional on most actions)."""

    reason: str | None = Field(default=None, max_length=5000)
