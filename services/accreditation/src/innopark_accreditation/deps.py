"""What the routes of every package declare besides the session: who may call, `If-Match`,
and the `ETag` they answer with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Response
from innopark_shared.auth import Principal, Role, require_roles
from innopark_shared.http import etag_of

Reviewer = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, Role.PARK_MANAGER, Role.EXPERT))
]
ParkManager = Annotated[Principal, Depends(require_roles(Role.PARK_MANAGER))]
Expert = Annotated[Principal, Depends(require_roles(Role.EXPERT))]
OperatorOrManager = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.PARK_MANAGER))]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def tag(response: Response, resource_id: object, version: int) -> None:
    response.headers["ETag"] = etag_of(resource_id, version)
