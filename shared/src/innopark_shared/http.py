"""Small HTTP conventions shared by the services: ETags and conditional updates."""

from __future__ import annotations

from typing import Any

from .errors import PreconditionFailed


def etag_of(resource_id: Any, version: int) -> str:
    return f'"{resource_id}-{version}"'


def check_if_match(if_match: str | None, resource_id: Any, version: int) -> None:
    """412 when the client's `If-Match` names another version (absent header: no check)."""
    if if_match is None:
        return
    current = etag_of(resource_id, version)
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in candidates and current not in candidates:
        raise PreconditionFailed("The resource has changed; fetch it again", current_etag=current)
