"""Login throttling per source address (sans-IO: time is passed in).

After ``max_failures`` failed logins within ``lockout`` seconds an address must
wait until ``lockout`` seconds have passed since its last failure. A successful
login clears the address. State is in memory: a restart forgets it, which only
ever helps the legitimate admin.
"""

from dataclasses import dataclass, field

MAX_TRACKED = 10_000  # addresses; the oldest are dropped beyond this


@dataclass
class LoginThrottle:
    max_failures: int = 5
    lockout: float = 300.0  # seconds
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def retry_after(self, address: str, now: float) -> float:
        """Seconds ``address`` must still wait before trying again (0 = may try)."""
        recent = self._recent(address, now)
        if len(recent) < self.max_failures:
            return 0.0
        return max(0.0, recent[-1] + self.lockout - now)

    def failure(self, address: str, now: float) -> None:
        recent = self._recent(address, now)
        recent.append(now)
        self._failures[address] = recent[-self.max_failures:]
        if len(self._failures) > MAX_TRACKED:
            self._failures.pop(next(iter(self._failures)))

    def success(self, address: str) -> None:
        self._failures.pop(address, None)

    def _recent(self, address: str, now: float) -> list[float]:
        return [t for t in self._failures.get(address, []) if now - t < self.lockout]
