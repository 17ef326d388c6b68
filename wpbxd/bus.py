"""The in-process event bus: how services hear about each other's news.

Subscribers register a callback per event class; ``publish`` delivers the event to
every subscriber of its class on the daemon's event loop, in subscription order.
Publishing is safe from any thread (the web UI runs in its own thread): off the
loop the delivery is scheduled with ``call_soon_threadsafe``.

A subscriber's exception is logged and does not stop delivery to the others.
Rule: the bus carries news, never requests — nobody waits for an answer.
"""

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Callback = Callable[[Any], Any]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callback]] = defaultdict(list)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def subscribe(self, event_type: type, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for every published event of ``event_type``.

        Returns a function that removes the subscription.
        """
        self._subscribers[event_type].append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers[event_type]:
                self._subscribers[event_type].remove(callback)

        return unsubscribe

    def publish(self, event: Any) -> None:
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._deliver, event)
            return
        self._deliver(event)

    def _deliver(self, event: Any) -> None:
        for callback in list(self._subscribers.get(type(event), ())):
            try:
                result = callback(event)
                if asyncio.iscoroutine(result):
                    asyncio.ensure_future(result)
            except Exception:
                log.exception("subscriber %r failed on %r", callback, event)
