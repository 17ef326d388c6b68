"""Dialplan tracing without placing a call (``wpbxctl dialplan trace``).

A ``DryRunContext`` implements ``CallContext`` without SIP: ringing returns an
assumed result (answered by default), extensions are assumed registered and
idle unless told otherwise, waits are instant. ``trace`` runs the real engine
over a compiled dialplan at a chosen instant and returns every line it wrote:
procedures, matched entries, applications and why (time range, switch state,
preferences, ACL).
"""

import time
from dataclasses import dataclass, field
from datetime import datetime

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan import engine
from wpbxd.telephony.dialplan.context import (
    DialResult,
    DialStatus,
    DialTarget,
    ExtensionState,
    Outcome,
)

ASSUME = {
    "answered": DialStatus.ANSWERED, "busy": DialStatus.BUSY,
    "no-answer": DialStatus.NO_ANSWER, "unavailable": DialStatus.UNAVAILABLE,
}
ASSUMED_CODES = {DialStatus.BUSY: 486, DialStatus.NO_ANSWER: 480, DialStatus.UNAVAILABLE: 480}


@dataclass
class DryRunContext:
    caller_number: str
    called: str
    procedure: str
    caller_name: str = ""
    call_id: str = "dry-run"
    answered: bool = False
    assume: DialStatus = DialStatus.ANSWERED
    states: dict[str, ExtensionState] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    groups: dict[str, tuple] = field(default_factory=dict)     # trunk group name -> members

    async def dial(self, targets: list[str], timeout: float | None) -> DialResult:
        return await self.ring([DialTarget(t) for t in targets], timeout)

    async def ring(self, targets: list[DialTarget], timeout: float | None) -> DialResult:
        if self.assume == DialStatus.ANSWERED:
            return DialResult(DialStatus.ANSWERED, 200, "OK (assumed)", targets[0].number)
        return DialResult(self.assume, ASSUMED_CODES.get(self.assume, 0), "(assumed)")

    def extension_state(self, extension: str) -> ExtensionState:
        return self.states.get(extension, ExtensionState(registered=True, active_calls=0))

    async def dial_trunk(self, trunk: str, number: str, timeout: float | None, limit: int = 0,
                         procedure: str | None = None, quiet_early: bool = False) -> DialResult:
        """Trunks are assumed up; the call is assumed to end as ``assume`` says."""
        return await self.ring([DialTarget(number)], timeout)

    def trunk_group(self, name: str) -> tuple | None:
        return self.groups.get(name)

    async def wait(self, seconds: float) -> bool:
        return True

    async def answer(self) -> None:
        self.answered = True

    async def hangup(self, sip_code: int, reason: str = "") -> None:
        self.lines.append(f"(would end the call: {sip_code} {reason})".rstrip())

    def publish(self, event: object) -> None:
        self.events.append(event)

    def trace(self, text: str) -> None:
        self.lines.append(text)


def parse_at(text: str | None, plan: engine.Dialplan) -> float | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{text!r} is not a date and time like 2026-12-01 20:00", "at") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=plan.tz)
    return when.timestamp()


async def trace(plan: engine.Dialplan, caller: str, called: str, *, at: float | None = None,
                procedure: str | None = None, assume: str = "answered",
                busy: tuple[str, ...] = (), offline: tuple[str, ...] = (), groups: dict | None = None,
                via_trunk: str | None = None) -> tuple[list[str], Outcome]:
    """Run the engine over ``plan`` for a call ``caller`` -> ``called``; no call is placed.

    ``via_trunk`` names the trunk the call comes in on (its procedure is the start
    unless ``procedure`` is given); ``groups`` gives the trunk groups' members.
    """
    if assume not in ASSUME:
        raise ValidationError(f"assume must be one of {', '.join(ASSUME)}", "assume")
    user = plan.users.get(caller)
    start = procedure or (user.dialplan if user else "main")
    states = {e: ExtensionState(True, 1) for e in busy}
    states.update({e: ExtensionState(False, 0) for e in offline})
    ctx = DryRunContext(caller, called, start, user.name if user else "", assume=ASSUME[assume], states=states,
                        groups=dict(groups or {}))
    ctx.lines.append(f"call from {caller}" + (f" (user {user.name})" if user else " (outside caller)")
                     + (f" in on trunk {via_trunk}" if via_trunk else "")
                     + f" to {called}, starting in procedure {start}")
    memory = plan.memory
    plan.memory = type(memory)(dict(memory.last_rung), dict(memory.last_answer))  # a trace changes nothing
    try:
        outcome = await engine.run(plan, ctx, clock=(lambda: at) if at is not None else time.time)
    finally:
        plan.memory = memory
    result = f"result: {outcome.end.value}"
    if outcome.sip_code:
        result += f", caller gets {outcome.sip_code} {outcome.reason}"
    ctx.lines.append(result)
    return ctx.lines, outcome
