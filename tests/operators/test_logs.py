"""Log lines: JSON with the ids an operator follows, readable in the dev runner, and no
local variables in tracebacks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from asgi_correlation_id import correlation_id
from innopark_shared.logs import bind_event, configure_logging
from innopark_shared.tracing import configure_tracing, current_ids, tracer


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_request_trace_and_event(capsys, restore_logging) -> None:
    configure_tracing("test")
    configure_logging("INFO", "json")
    token = correlation_id.set("req-123")
    try:
        with tracer().start_as_current_span("work"):
            ids = current_ids()
            with bind_event("evt-1", "org.innopark.registry.park.created.v1", topic="t"):
                logging.getLogger("innopark_shared.consumer").warning("retry %d", 2)
            try:
                password = "hunter2"  # noqa: F841 - must not reach the log
                raise RuntimeError("boom")
            except RuntimeError:
                logging.getLogger("x").exception("crashed")
    finally:
        correlation_id.reset(token)
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/x?token=s3cr3t-value", "1.1", 200
        )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    first, second, access = lines
    # Secrets in URLs are redacted in JSON lines too.
    assert "s3cr3t-value" not in access["event"] and "token=[redacted]" in access["event"]
    assert ids is not None
    assert first["event"] == "retry 2" and first["level"] == "warning"
    assert first["request_id"] == "req-123"
    assert (first["trace_id"], first["span_id"]) == ids
    assert first["event_id"] == "evt-1" and first["topic"] == "t"
    assert first["event_type"] == "org.innopark.registry.park.created.v1"
    assert "event_id" not in second  # bound only inside the block
    assert second["exception"][0]["exc_type"] == "RuntimeError"
    assert "hunter2" not in json.dumps(second)


def test_console_lines_are_readable(capsys, restore_logging) -> None:
    configure_logging("INFO", "console")
    logging.getLogger("innopark_registry").info("started on %s", "127.0.0.1:8001")
    out = capsys.readouterr().out
    assert "started on 127.0.0.1:8001" in out and not out.startswith("{")
    with pytest.raises(ValueError):
        configure_logging("INFO", "xml")
