"""Fixtures for dialplan tests: a migrated store with factory defaults, and a
scripted fake ``CallContext`` that records what the dialplan asked for."""

import asyncio
import shutil
from dataclasses import dataclass, field

import pytest

from wpbxd.config import users
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store
from wpbxd.telephony.dialplan import engine
from wpbxd.telephony.dialplan.context import DialResult, DialStatus, DialTarget, ExtensionState

T0 = 1_796_000_000.0  # a fixed instant (unix seconds) for the fake clock


@pytest.fixture(scope="session")
def factory_db(tmp_path_factory):
    """One migrated store with factory defaults (hashing the admin password is slow)."""
    path = tmp_path_factory.mktemp("template") / "wpbx.db"
    s = Store(path)
    s.migrate()
    apply_factory_defaults(s)
    s.close()
    return path


@pytest.fixture
def store(tmp_path, factory_db):
    shutil.copyfile(factory_db, tmp_path / "wpbx.db")
    s = Store(tmp_path / "wpbx.db")
    yield s
    s.close()


def add_user(store, ext, **kw):
    values = {"name": kw.pop("name", f"User {ext}"), "extension": ext, **kw}
    return users.add_user(store, None, values)


@dataclass
class FakeCall:
    """A scripted call: ``answers`` says how each target ends when rung.

    Targets not listed ring out (NO_ANSWER). Ringing advances the fake clock by
    the ring time of an unanswered attempt, so hunting groups meet their timeout.
    """

    caller_number: str
    called: str
    procedure: str
    caller_name: str = ""
    call_id: str = "c1"
    answered: bool = False
    answers: dict[str, DialStatus] = field(default_factory=dict)
    states: dict[str, ExtensionState] = field(default_factory=dict)
    now: float = T0
    rings: list[list[DialTarget]] = field(default_factory=list)
    hangups: list[tuple[int, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    caller_hangs_up_in_wait: bool = False
    seen_caller: list[str] = field(default_factory=list)

    async def dial(self, targets, timeout):
        return await self.ring([DialTarget(t) for t in targets], timeout)

    async def ring(self, targets, timeout):
        self.rings.append(list(targets))
        self.seen_caller.append(self.caller_number)
        statuses = [(t, self.answers.get(t.number, DialStatus.NO_ANSWER)) for t in targets]
        for target, status in statuses:
            if status == DialStatus.ANSWERED:
                return DialResult(DialStatus.ANSWERED, 200, "OK", target.number)
        if any(s == DialStatus.CANCELLED for _, s in statuses):
            return DialResult(DialStatus.CANCELLED, 487, "Request Terminated")
        self.now += max([t.ring_time or timeout or 0 for t in targets] + [0])
        kinds = {s for _, s in statuses}
        if kinds == {DialStatus.BUSY}:
            return DialResult(DialStatus.BUSY, 486, "Busy Here")
        if kinds == {DialStatus.UNAVAILABLE}:
            return DialResult(DialStatus.UNAVAILABLE, 480, "Temporarily Unavailable")
        return DialResult(DialStatus.NO_ANSWER, 480, "No Answer")

    def extension_state(self, extension):
        return self.states.get(extension, ExtensionState(True, 0))

    async def wait(self, seconds):
        self.waits.append(seconds)
        self.now += seconds
        return not self.caller_hangs_up_in_wait

    async def answer(self):
        self.answered = True

    async def hangup(self, sip_code, reason=""):
        self.hangups.append((sip_code, reason))

    def publish(self, event):
        self.events.append(event)

    def trace(self, text):
        self.lines.append(text)

    def rung(self):
        """The numbers rung, one tuple per ring attempt."""
        return [tuple(t.number for t in attempt) for attempt in self.rings]


def run_call(plan, call):
    return asyncio.run(engine.run(plan, call, clock=lambda: call.now))
