"""The live call log behind the Debug page: the last lines of call news, numbered.

The web service feeds it from the event bus (call started, dialplan trace line,
call ended) on the loop thread; page threads read it, or wait for lines newer
than the last one they saw (Server-Sent Events). Time is passed in by the feeder.
Nothing here knows HTTP or the bus.
"""

import threading
from collections import deque
from dataclasses import dataclass

KEEP_LINES = 500  # lines kept for the page and for reconnecting streams


@dataclass(frozen=True)
class LogLine:
    seq: int
    time: float
    call_id: str
    kind: str  # started | trace | ended
    text: str


class LiveLog:
    """Appending is cheap (it runs for every trace line of every call): a tuple under a
    plain lock, and the condition is notified only when a page is waiting. Readers
    copy the deque (atomic under the GIL) and build ``LogLine`` records."""

    def __init__(self, keep: int = KEEP_LINES) -> None:
        self._lines: deque[tuple[int, float, str, str, str]] = deque(maxlen=keep)
        self._seq = 0
        self._append_lock = threading.Lock()
        self._changed = threading.Condition()
        self._waiting = 0              # readers inside wait(); changed under _changed
        self.closed = False

    def append(self, now: float, call_id: str, kind: str, text: str) -> int:
        """Add a line; returns its number."""
        with self._append_lock:
            self._seq += 1
            seq = self._seq
            self._lines.append((seq, now, call_id, kind, text))
        # A waiter counts itself before it tests _seq, and _seq is set before this
        # test: either it sees the new line or it is notified here.
        if self._waiting:
            with self._changed:
                self._changed.notify_all()
        return seq

    def _after(self, seq: int) -> list[LogLine]:
        return [LogLine(*line) for line in list(self._lines) if line[0] > seq]

    def since(self, seq: int) -> list[LogLine]:
        """Lines numbered after ``seq`` (those still kept)."""
        return self._after(seq)

    def wait(self, seq: int, timeout: float) -> list[LogLine]:
        """Lines after ``seq``, waiting up to ``timeout`` seconds for the first one."""
        with self._changed:
            self._waiting += 1
            try:
                self._changed.wait_for(lambda: self._seq > seq or self.closed, timeout)
            finally:
                self._waiting -= 1
        return self._after(seq)

    def close(self) -> None:
        """Wake every waiter for good (the daemon is stopping)."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def recent(self, count: int) -> list[LogLine]:
        return [LogLine(*line) for line in list(self._lines)[-count:]]
