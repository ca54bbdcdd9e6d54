"""A real SMTP server for the notification tests (aiosmtpd, in a thread of its own), and
what it received."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ..devrun.embedded import free_port


@dataclass(frozen=True)
class ReceivedMail:
    message_id: str
    sender: str
    recipients: list[str]
    subject: str
    kind: str  # the X-Innopark-Notification header
    body: str
    message: EmailMessage


@dataclass
class SmtpSink:
    """Accepts every message and keeps it. `hold_seconds` makes the server keep the
    message, then wait that long before its `250` (a sender killed meanwhile never hears
    that its message was accepted)."""

    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    hold_seconds: float = 0.0
    messages: list[ReceivedMail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def env(self) -> dict[str, str]:
        """The settings a service sends to this server with."""
        return {"SMTP_HOST": self.host, "SMTP_PORT": str(self.port)}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        mail = ReceivedMail(
            message_id=str(parsed["Message-ID"]),
            sender=envelope.mail_from,
            recipients=list(envelope.rcpt_tos),
            subject=str(parsed["Subject"]).strip(),
            kind=str(parsed["X-Innopark-Notification"]),
            body=body.get_content() if body is not None else "",
            message=parsed,
        )
        with self._lock:
            self.messages.append(mail)
        if self.hold_seconds:
            await asyncio.sleep(self.hold_seconds)
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self, **match: str) -> list[ReceivedMail]:
        """Messages whose fields equal `match` (`kind=...`) or, for `to`, list it."""
        with self._lock:
            found = list(self.messages)
        to = match.pop("to", None)
        return [
            m
            for m in found
            if (to is None or to in m.recipients)
            and all(getattr(m, k) == v for k, v in match.items())
        ]

    async def wait_for(self, count: int = 1, *, timeout: float = 20.0, **match: str) -> list:
        """At least `count` messages matching `match` (and a short settle, so a duplicate
        on its way shows up); what matched."""
        deadline = time.monotonic() + timeout
        while len(self.received(**match)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        return self.received(**match)


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    """A real SMTP server on a free port for one test; `smtp_server.env` configures a
    service to send to it."""
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
