"""Domain errors and their RFC 9457 problem-details rendering.

Services raise the domain errors below; `install_problem_handlers` turns them, request
validation errors and framework HTTP errors into `application/problem+json`.
"""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .outages import is_transient, sqlstate_of

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://innopark.example/problems/"


class DomainError(Exception):
    status: int = 400
    slug: str = "bad-request"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or HTTPStatus(self.status).phrase)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}


class NotFound(DomainError):
    status, slug = 404, "not-found"


class Conflict(DomainError):
    status, slug = 409, "conflict"


class InvalidTransition(Conflict):
    slug = "invalid-transition"


class Forbidden(DomainError):
    status, slug = 403, "forbidden"


class Unauthorized(DomainError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers = {"WWW-Authenticate": 'Bearer realm="innopark"'}


class PreconditionFailed(DomainError):
    status, slug = 412, "precondition-failed"


class Unprocessable(DomainError):
    status, slug = 422, "unprocessable-content"

    @classmethod
    def for_field(
        cls,
        field: str,
        message: str,
        *,
        location: str = "body",
        kind: str = "value_error",
        detail: str | None = None,
        **extensions: Any,
    ) -> Unprocessable:
        """A 422 naming one field, shaped like request validation errors
        (`location` is where it came from: body, query, path or header; `kind` is the
        error's `type`; `extensions` are extra members of the problem)."""
        return cls.for_fields(
            [field_error(field, message, location=location, kind=kind)], detail=detail, **extensions
        )

    @classmethod
    def for_fields(
        cls, errors: list[dict[str, Any]], *, detail: str | None = None, **extensions: Any
    ) -> Unprocessable:
        """A 422 naming several fields (each built with `field_error`)."""
        fields = ", ".join(e["field"] for e in errors)
        return cls(detail or f"Invalid input: {fields}", errors=errors, **extensions)


def field_error(
    field: str, message: str, *, location: str = "body", kind: str = "value_error"
) -> dict[str, Any]:
    """One entry of a problem's `errors[]`, the shape request validation errors have."""
    return {
        "field": field,
        "location": [location, *field.split(".")],
        "message": message,
        "type": kind,
    }


class TooManyRequests(DomainError):
    status, slug = 429, "too-many-requests"

    def __init__(self, detail: str | None = None, *, retry_after: float, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}


class ServiceUnavailable(DomainError):
    status, slug = 503, "service-unavailable"


def problem(
    status: int,
    *,
    slug: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or phrase.lower().replace(" ", "-")),
        "title": phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors as `{"field": "a.b", "location": [...], "message": ...}`."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        field_path = loc[1:] if loc and loc[0] in {"body", "query", "path", "header"} else loc
        out.append(
            {
                "field": ".".join(field_path) or (loc[0] if loc else ""),
                "location": loc,
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return out


# What a client should wait before retrying while a dependency is down.
OUTAGE_RETRY_AFTER_SECONDS = 2


def _outage(request: Request, exc: BaseException) -> JSONResponse:
    log.warning(
        "dependency unavailable on %s %s: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc,
    )
    return problem(
        503,
        slug="unavailable",
        detail="A service this request needs is unavailable; retry shortly",
        instance=request.url.path,
        headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(
            exc.status,
            slug=exc.slug,
            detail=exc.detail,
            instance=request.url.path,
            headers=exc.headers or None,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        fields = ", ".join(sorted({e["field"] for e in errors if e["field"]}))
        return problem(
            422,
            slug="validation-error",
            detail=f"Invalid input: {fields}" if fields else "Invalid input",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: str | None = exc.detail if isinstance(exc.detail, str) else None
        if detail == HTTPStatus(exc.status_code).phrase:
            detail = None
        return problem(
            exc.status_code,
            detail=detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # Safety net for input that got past validation but not past PostgreSQL: data
        # exceptions (NUL bytes, out-of-range numbers or dates, over-long strings) are the
        # client's, and a lost unique race is a conflict. Anything else is ours: a 500.
        if is_transient(exc):
            return _outage(request, exc)
        sqlstate = sqlstate_of(exc)
        if sqlstate and sqlstate.startswith("22"):
            return problem(
                422,
                slug="invalid-value",
                detail="A value is not acceptable "
                "(out of range, too long, or has characters text cannot hold)",
                instance=request.url.path,
            )
        if sqlstate == "23505":
            return problem(
                409, slug="conflict", detail="It already exists", instance=request.url.path
            )
        log.exception("database error on %s %s", request.method, request.url.path)
        return problem(500, slug="internal-error", instance=request.url.path)

    @app.exception_handler(StaleDataError)
    async def _lost_race(request: Request, exc: StaleDataError) -> JSONResponse:
        # A `Versioned` row changed between our read and our write: another request won.
        return problem(
            409,
            slug="concurrent-update",
            detail="The resource was changed by another request meanwhile; fetch it and retry",
            instance=request.url.path,
        )

    @app.exception_handler(SATimeoutError)
    async def _pool_exhausted(request: Request, exc: SATimeoutError) -> JSONResponse:
        log.warning("database pool exhausted on %s %s", request.method, request.url.path)
        return problem(
            503,
            slug="busy",
            detail="Too busy right now; retry shortly",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(OSError)
    async def _connection_lost(request: Request, exc: OSError) -> JSONResponse:
        # asyncpg raises ConnectionRefusedError (and friends) unwrapped while the database
        # is down; handled here, not in the catch-all below (which Starlette re-raises).
        if is_transient(exc):
            return _outage(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, slug="internal-error", instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):  # e.g. ConnectionRefusedError while the database restarts
            return _outage(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, slug="internal-error", instance=request.url.path)
