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
    def __init__(self, keep: int = KEEP_LINES) -> None:
        self._lines: deque[LogLine] = deque(maxlen=keep)
        self._seq = 0
        self._changed = threading.Condition()
        self.closed = False

    def append(self, now: float, call_id: str, kind: str, text: str) -> LogLine:
        with self._changed:
            self._seq += 1
            line = LogLine(self._seq, now, call_id, kind, text)
            self._lines.append(line)
            self._changed.notify_all()
        return line

    def since(self, seq: int) -> list[LogLine]:
        """Lines numbered after ``seq`` (those still kept)."""
        with self._changed:
            return [line for line in self._lines if line.seq > seq]

    def wait(self, seq: int, timeout: float) -> list[LogLine]:
        """Lines after ``seq``, waiting up to ``timeout`` seconds for the first one."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > seq or self.closed, timeout)
            return [line for line in self._lines if line.seq > seq]

    def close(self) -> None:
        """Wake every waiter for good (the daemon is stopping)."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def recent(self, count: int) -> list[LogLine]:
        with self._changed:
            return list(self._lines)[-count:]
