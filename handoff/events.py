"""Domain events inside one hub process: a change is announced once, its reactions subscribe.

Two kinds of subscriber:
- ``on_each`` handlers see every event in order (the customer's channel, the consoles);
- ``on_batch`` handlers see the events of one unit of work together, once (the queue broadcast
  and auto-assignment: five moves of one auto-assignment round cost one queue broadcast).

Outside ``batch()`` every event is its own unit. Handlers are awaited, so when a request that
changed something answers, its reactions (delivery, broadcast, assignment) have run; events
between hub processes go through ``handoff.realtime`` (what the handlers publish), not here.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger("handoff.events")

Handler = Callable[[Any], Awaitable[None]]
BatchHandler = Callable[[list[Any]], Awaitable[None]]



class _Unit:
    """The events of one ``batch()``; ``open`` until dispatched (a task started inside a batch
    keeps the context, and may emit after the batch ended: then it dispatches at once)."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.open = True


_unit: contextvars.ContextVar[_Unit | None] = contextvars.ContextVar("hub_events", default=None)


class Events:
    def __init__(self) -> None:
        self._each: list[Handler] = []
        self._batch: list[BatchHandler] = []

    def on_each(self, handler: Handler) -> None:
        self._each.append(handler)

    def on_batch(self, handler: BatchHandler) -> None:
        self._batch.append(handler)

    async def emit(self, event: Any) -> None:
        unit = _unit.get()
        if unit is not None and unit.open:
            unit.events.append(event)
            return
        await self.dispatch([event])

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Collect the events emitted inside; dispatch them together when the block ends (also
        when it raises: what was committed is announced)."""
        unit = _Unit()
        token = _unit.set(unit)
        try:
            yield
        finally:
            unit.open = False
            _unit.reset(token)
            if unit.events:
                await self.dispatch(unit.events)

    async def dispatch(self, events: list[Any]) -> None:
        for event in events:
            for handler in self._each:
                await handler(event)
        for batch_handler in self._batch:
            await batch_handler(events)
