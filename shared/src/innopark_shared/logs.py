"""Logging set-up (structlog over the standard library): every line carries the request id
of the request being served and the trace id of the current span; relay and consumer
lines also carry the event id and type (bound with `bind_event`). Never a secret that
travelled in a URL (uvicorn's access log prints query strings).

`LOG_FORMAT=json` (containers) writes one JSON object per line; `console` (the default,
the dev runner) a human-readable line with the same fields. Code keeps using
`logging.getLogger(__name__)`: its records go through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from opentelemetry import trace

LOG_FORMATS = ("console", "json")
# For a plain standard-library handler outside `configure_logging` (its fields, as text).
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"

# A query parameter whose name says it is a secret (token, access_token, client_secret,
# password, api_key, key, signature, ticket_code...), up to the next separator.
SECRET_PARAMETER = re.compile(
    r"(?i)([?&](?:[\w.-]*(?:token|secret|password|passwd|api[_-]?key|apikey|signature|code)"
    r"|key|sig)=)[^&\s\"'#]*"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with the values of secret-named query parameters replaced."""
    return SECRET_PARAMETER.sub(rf"\1{REDACTED}", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record whose message carries a secret query parameter (any logger:
    uvicorn.access, httpx, our own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _add_request_and_trace(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = correlation_id.get()
    if request_id and "request_id" not in event:
        event["request_id"] = request_id
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event.setdefault("trace_id", format(span.trace_id, "032x"))
        event.setdefault("span_id", format(span.span_id, "016x"))
    return event


def _processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_and_trace,
    ]


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    if fmt not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        # Tracebacks as structured frames, never with local variables (they hold secrets).
        tracebacks = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        final = [tracebacks, renderer]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        final = [renderer]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True


@contextmanager
def bind_event(event_id: str, event_type: str, **fields: Any) -> Iterator[None]:
    """Every log line inside the block names the event it is about."""
    with structlog.contextvars.bound_contextvars(
        event_id=event_id, event_type=event_type, **fields
    ):
        yield
