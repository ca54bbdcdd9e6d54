"""Secrets in URLs never reach a log line, whichever logger writes it; links are built on
the configured public base URL (in-process: the platform-wide checks are in
test_disclosure.py)."""

from __future__ import annotations

import io
import logging

import pytest
from innopark_shared.logs import FORMAT, RedactSecrets
from innopark_shared.settings import ServiceSettings


def _logged(logger_name: str, message: str, *args: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(logging.Formatter(FORMAT.replace(" [%(correlation_id)s]", "")))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize(
    "query",
    [
        "token=s3cr3t-value",
        "limit=5&token=s3cr3t-value",
        "access_token=s3cr3t-value&q=x",
        "client_secret=s3cr3t-value",
        "api_key=s3cr3t-value",
        "password=s3cr3t-value",
        "ticket_code=s3cr3t-value",
        "TOKEN=s3cr3t-value",
    ],
)
def test_the_access_log_line_keeps_the_request_but_not_the_secret(query):
    # uvicorn.access formats its arguments late: the filter sees the finished line.
    line = _logged(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5555",
        "GET",
        f"/api/v1/events/e/registrations/r?{query}",
        "1.1",
        200,
    )
    assert "s3cr3t-value" not in line
    assert "/api/v1/events/e/registrations/r?" in line and "[redacted]" in line and "200" in line


def test_harmless_parameters_and_messages_are_left_alone():
    line = _logged("innopark.test", "GET /api/v1/orders?q=token&monkey=1&format=csv 100%")
    assert "q=token&monkey=1&format=csv 100%" in line


def test_links_start_with_the_public_base_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:1/x")
    monkeypatch.setenv("INNOPARK_PUBLIC_BASE_URL", "https://innopark.example/")
    settings = ServiceSettings()
    assert settings.public_url("/api/v1/events/e") == "https://innopark.example/api/v1/events/e"
    monkeypatch.delenv("INNOPARK_PUBLIC_BASE_URL")
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:18000")  # the older name
    assert ServiceSettings().public_url("x") == "http://127.0.0.1:18000/x"
