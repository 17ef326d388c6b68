"""Keep-alive of a trunk: periodic OPTIONS, down after missed answers, up on any answer.

The seed's "Keep-Alive" sends OPTIONS every ``interval`` seconds. Any response
(even 404 or 405) proves the peer alive; no response within ``answer_timeout``
is a miss, and ``MISSES_DOWN`` misses in a row mark the trunk down. A down
trunk is skipped by routing until it answers again.

Rule: sans-IO. The owner asks ``get_timer()``, calls ``handle_timer(now)``,
sends an OPTIONS whenever ``due(now)`` and reports ``answered(now)``; it never
waits for the 32 s transaction timeout to decide.
"""

from dataclasses import dataclass

MISSES_DOWN = 2              # unanswered OPTIONS in a row before the trunk is down
ANSWER_TIMEOUT = 4.0         # seconds an OPTIONS may take before it counts as missed


@dataclass(frozen=True)
class KeepAliveStatus:
    up: bool
    misses: int
    last_answer: float | None
    changed_at: float


class KeepAlive:
    def __init__(self, interval: float, answer_timeout: float = ANSWER_TIMEOUT, misses_down: int = MISSES_DOWN,
                 now: float = 0.0) -> None:
        self.interval = interval
        self.answer_timeout = min(answer_timeout, interval)
        self.misses_down = misses_down
        self.up = True
        self.misses = 0
        self.last_answer: float | None = None
        self.changed_at = now
        self._next_send = now
        self._deadline: float | None = None
        self.sent = 0

    def get_timer(self) -> float | None:
        if self._deadline is not None:
            return min(self._deadline, self._next_send)
        return self._next_send

    def due(self, now: float) -> bool:
        return now >= self._next_send and self._deadline is None

    def sending(self, now: float) -> None:
        """The owner sends an OPTIONS now."""
        self.sent += 1
        self._deadline = now + self.answer_timeout
        self._next_send = now + self.interval

    def answered(self, now: float) -> bool:
        """Any response arrived; returns True when this brings the trunk back up."""
        self._deadline = None
        self.misses = 0
        self.last_answer = now
        if not self.up:
            self.up = True
            self.changed_at = now
            return True
        return False

    def handle_timer(self, now: float) -> bool:
        """Count a miss when the answer is late; returns True when the trunk goes down."""
        if self._deadline is None or now < self._deadline:
            return False
        self._deadline = None
        self.misses += 1
        if self.up and self.misses >= self.misses_down:
            self.up = False
            self.changed_at = now
            return True
        return False

    def status(self) -> KeepAliveStatus:
        return KeepAliveStatus(self.up, self.misses, self.last_answer, self.changed_at)
