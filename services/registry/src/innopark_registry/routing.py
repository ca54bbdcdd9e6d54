"""Route plumbing every aggregate's api.py shares: the If-Match header, ETag and Location
headers, and choosing an export format from `?format=` or the Accept header."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import Header, Query, Request, Response
from innopark_shared.http import etag_of
from innopark_shared.schemas import Input
from pydantic import ConfigDict

IfMatch = Annotated[str | None, Header(alias="If-Match", description="ETag the change is based on")]

CSV = "text/csv"
GEOJSON = "application/geo+json"


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    GEOJSON = "geojson"


ExportFormatQuery = Annotated[
    ExportFormat | None, Query(description="Export instead of a JSON page")
]


MEDIA_TYPES = {ExportFormat.CSV: CSV, ExportFormat.GEOJSON: GEOJSON}


def export_format(
    request: Request,
    format: ExportFormat | None,
    *,
    negotiated: tuple[ExportFormat, ...] = (ExportFormat.CSV, ExportFormat.GEOJSON),
) -> ExportFormat:
    """`?format=` when given, else the first of `negotiated` the Accept header asks for,
    else a JSON page."""
    if format is not None:
        return format
    accept = request.headers.get("accept", "")
    for candidate in negotiated:
        if MEDIA_TYPES[candidate] in accept:
            return candidate
    return ExportFormat.JSON


def tag(response: Response, obj: Any) -> None:
    response.headers["ETag"] = etag_of(obj.id, obj.version)


def created(response: Response, obj: Any, path: str) -> None:
    response.headers["Location"] = f"/api/v1/{path}/{obj.id}"
    tag(response, obj)


class QueryFilters(Input):
    """The base of a collection's filters. Not a request body: the query string also
    carries the paging and format parameters, so unknown keys are not refused here, and
    values keep their spaces (a blank `q` means no search). NUL is still refused."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)
