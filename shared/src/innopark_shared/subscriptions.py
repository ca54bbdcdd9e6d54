"""What a service listens to: `Subscriptions` (event type -> handler) and what a handler
gets (`HandlerContext`). Declared in each service's `events.py`; run by the consumer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from .contracts import IntegrationEvent
from .kafka import Envelope

E = TypeVar("E", bound=IntegrationEvent)

# Each service distribution names its `Subscriptions` under this entry-point group, so the
# AsyncAPI document and the operator commands find them without importing any service.
SUBSCRIPTIONS_ENTRY_POINTS = "innopark.subscriptions"


@dataclass(frozen=True)
class HandlerContext:
    session: AsyncSession  # the handler's transaction; the inbox row is in it too
    envelope: Envelope


Handler = Callable[[Any, HandlerContext], Awaitable[None]]
# A handler of several events at once: (event, context) pairs in delivery order, every
# context with the same session.
BatchHandler = Callable[[list[tuple[Any, HandlerContext]]], Awaitable[None]]


class Subscriptions:
    """The event types a service handles, and the handler of each."""

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[type[IntegrationEvent], Handler]] = {}
        self._batch_handlers: dict[str, BatchHandler] = {}

    def on(self, event_cls: type[E]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if event_cls.event_type in self._handlers:
                raise ValueError(f"{event_cls.event_type} already has a handler")
            self._handlers[event_cls.event_type] = (event_cls, handler)
            return handler

        return register

    def on_batch(self, event_cls: type[E]) -> Callable[[BatchHandler], BatchHandler]:
        """Like `on`, for a handler that applies several events in one go (one statement
        for a read model's upserts, say). The consumer gives it the consecutive events of
        a fetch that it handles, in order; the careful path (an event alone, retried or
        dead-lettered) gives it one. It must leave the same state as applying them one
        by one would."""

        def register(handler: BatchHandler) -> BatchHandler:
            async def one(event: Any, ctx: HandlerContext) -> None:
                await handler([(event, ctx)])

            one.__qualname__ = getattr(handler, "__qualname__", repr(handler))
            self.on(event_cls)(one)
            self._batch_handlers[event_cls.event_type] = handler
            return handler

        return register

    def get(self, event_type: str) -> tuple[type[IntegrationEvent], Handler] | None:
        return self._handlers.get(event_type)

    def batch_handler(self, event_type: str) -> BatchHandler | None:
        """The handler registered with `on_batch` for `event_type`, if any."""
        return self._batch_handlers.get(event_type)

    @property
    def topics(self) -> list[str]:
        return sorted({cls.topic for cls, _ in self._handlers.values()})

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    def __bool__(self) -> bool:
        return bool(self._handlers)
