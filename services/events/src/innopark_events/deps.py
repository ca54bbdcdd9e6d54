"""Request parts the routers share: who organises, the registrant's private token, and
the export formats chosen by `Accept` or `?format=`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header, Query, Request
from innopark_shared.auth import Principal, Role, require_roles
from innopark_shared.errors import Unprocessable

ICS = "text/calendar"
CSV = "text/csv"

# Operators, and park managers (for events hosted at their own park); the service
# decides per event whether the caller organises it.
OrganiserPrincipal = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.PARK_MANAGER))]

Format = Annotated[
    Literal["json", "csv", "ics"] | None,
    Query(description="Same as the Accept header, for plain links"),
]


async def registration_token(
    request: Request,
    x_registration_token: Annotated[
        str | None,
        Header(max_length=200, description="The registrant's private token (never in the URL)"),
    ] = None,
) -> str | None:
    """The registrant's private token, from the `X-Registration-Token` header only: a URL
    ends up in access logs, browser history and referrers."""
    if "token" in request.query_params:
        raise Unprocessable.for_field(
            "token",
            "the registration token goes in the X-Registration-Token header, not the URL",
            location="query",
        )
    return x_registration_token


TokenDep = Annotated[str | None, Depends(registration_token)]


def wants(request: Request, fmt: str | None, name: str, media_type: str) -> bool:
    """Whether the client asked for `name` (`?format=`, else the Accept header)."""
    if fmt is not None:
        return fmt == name
    return media_type in request.headers.get("accept", "")
