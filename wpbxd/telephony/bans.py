"""Brute-force protection: too many failed authentications from one address ban it.

After ``max_failures`` failed digest authentications from one source address
within ``window`` seconds, the address is banned for ``duration`` seconds: the SIP
stack drops everything it sends, without an answer. Bans are rows of
``sip_bans`` (loaded at start, so they survive a restart); the recovery console
and ``wpbxctl unban`` delete rows and publish ``ConfigChanged('bans')``, which
makes the service reload them.

Rule: ``BanList`` does no I/O and reads no clock (``now`` passed in); the store
functions below are the only place that reads or writes ``sip_bans``.
"""

from collections import deque
from dataclasses import dataclass

from wpbxd.config.store import Store


@dataclass(frozen=True)
class BanPolicy:
    max_failures: int = 10
    window: float = 60.0       # seconds
    duration: float = 600.0    # seconds


@dataclass(frozen=True)
class Ban:
    address: str
    banned_at: float
    until: float
    reason: str
    failures: int


class BanList:
    def __init__(self, policy: BanPolicy) -> None:
        self.policy = policy
        self.bans: dict[str, Ban] = {}
        self._failures: dict[str, deque[float]] = {}

    def is_banned(self, address: str, now: float) -> bool:
        ban = self.bans.get(address)
        if ban is None:
            return False
        if ban.until <= now:
            del self.bans[address]
            return False
        return True

    def record_failure(self, address: str, now: float, reason: str) -> Ban | None:
        """Count one failure; return the new ``Ban`` when this one crosses the limit."""
        times = self._failures.setdefault(address, deque())
        times.append(now)
        limit = now - self.policy.window
        while times and times[0] < limit:
            times.popleft()
        if len(times) < self.policy.max_failures:
            return None
        del self._failures[address]
        ban = Ban(address, now, now + self.policy.duration,
                  f"{len(times)} failed authentications in {self.policy.window:g} s (last: {reason})",
                  len(times))
        self.bans[address] = ban
        return ban

    def record_success(self, address: str) -> None:
        self._failures.pop(address, None)

    def unban(self, address: str) -> bool:
        self._failures.pop(address, None)
        return self.bans.pop(address, None) is not None

    def replace(self, bans: list[Ban]) -> None:
        self.bans = {b.address: b for b in bans}

    def active(self, now: float) -> list[Ban]:
        return sorted((b for b in self.bans.values() if b.until > now), key=lambda b: b.banned_at)

    def prune(self, now: float) -> None:
        for address in [a for a, b in self.bans.items() if b.until <= now]:
            del self.bans[address]
        limit = now - self.policy.window
        for address in [a for a, t in self._failures.items() if not t or t[-1] < limit]:
            del self._failures[address]


def load_bans(store: Store, now: float) -> list[Ban]:
    rows = store.all("SELECT address, banned_at, until, reason, failures FROM sip_bans WHERE until > ?", (now,))
    return [Ban(r["address"], r["banned_at"], r["until"], r["reason"], r["failures"]) for r in rows]


def save_ban(store: Store, ban: Ban) -> None:
    with store.transaction():
        store.execute(
            "INSERT INTO sip_bans(address, banned_at, until, reason, failures) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(address) DO UPDATE SET banned_at = excluded.banned_at, until = excluded.until,"
            " reason = excluded.reason, failures = excluded.failures",
            (ban.address, ban.banned_at, ban.until, ban.reason, ban.failures),
        )


def delete_ban(store: Store, address: str) -> bool:
    with store.transaction():
        cur = store.execute("DELETE FROM sip_bans WHERE address = ?", (address,))
    return cur.rowcount > 0


def delete_expired(store: Store, now: float) -> None:
    with store.transaction():
        store.execute("DELETE FROM sip_bans WHERE until <= ?", (now,))
