"""Request parts the routers share: who organises, the registrant's private token, and
the export formats chosen by `Accept` or `?format=`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header, Query, Request
from innopark_shared.auth import Principal, Role, require_roles

ICS = "text/calendar"
CSV = "text/csv"

# Operators, and park managers (for events hosted at their own park); the service
# decides per event whether the caller organises it.
OrganiserPrincipal = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.PARK_MANAGER))]

Format = Annotated[
    Literal["json", "csv", "ics"] | None,
    Query(description="Same as the Accept header, for plain links"),
]


def registration_token(
    token: Annotated[
        str | None, Query(max_length=200, description="The registrant's private token")
    ] = None,
    x_registration_token: Annotated[str | None, Header(max_length=200)] = None,
) -> str | None:
    return x_registration_token or token


TokenDep = Annotated[str | None, Depends(registration_token)]


def wants(request: Request, fmt: str | None, name: str, media_type: str) -> bool:
    """Whether the client asked for `name` (`?format=`, else the Accept header)."""
    if fmt is not None:
        return fmt == name
    return media_type in request.headers.get("accept", "")
