"""The dialplan engine: find the entry for a called number and run its applications.

``Dialplan.load(store)`` compiles the procedures once per configuration load (an
immutable snapshot; a reload builds a new one). ``run(dialplan, ctx)`` walks the
call through procedures, entries and applications and returns an ``Outcome``
telling the call engine what the caller should get if nothing answered.

Lookup in a procedure: its own entries first, then its included procedures in
order (seed: "Procédures incluses"); ``default`` entries only when no other entry
of the procedure or its includes matches. Jumps are bounded (``MAX_JUMPS``).
"""

import json
import logging
from dataclasses import dataclass

from wpbxd.config.store import Store
from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import Application, Jump, Stop
from wpbxd.telephony.dialplan.apps.registry import applications
from wpbxd.telephony.dialplan.context import CallContext, CallEnd, DialStatus, Outcome
from wpbxd.telephony.dialplan.patterns import Pattern, best_match, compile_pattern

log = logging.getLogger(__name__)

MAX_JUMPS = 20
DIAL_STATUS_SIP = {
    DialStatus.BUSY: (486, "Busy Here"),
    DialStatus.NO_ANSWER: (480, "No Answer"),
    DialStatus.UNAVAILABLE: (480, "Temporarily Unavailable"),
    DialStatus.NOT_FOUND: (404, "Not Found"),
    DialStatus.REJECTED: (603, "Decline"),
    DialStatus.FAILED: (503, "Service Unavailable"),
}


@dataclass(frozen=True)
class AppCall:
    name: str
    params: dict
    app: Application | None  # None when the application is not available in this build


@dataclass(frozen=True)
class Entry:
    pattern: Pattern
    apps: tuple[AppCall, ...]


@dataclass(frozen=True)
class Procedure:
    name: str
    entries: tuple[Entry, ...]
    includes: tuple[str, ...]


class Dialplan:
    def __init__(self, procedures: dict[str, Procedure]) -> None:
        self.procedures = procedures

    @classmethod
    def load(cls, store: Store) -> "Dialplan":
        known = applications()
        procs: dict[str, list[Entry]] = {r["name"]: [] for r in store.all("SELECT name FROM procedures")}
        includes: dict[str, list[str]] = {name: [] for name in procs}
        for row in store.all("SELECT procedure, included FROM procedure_includes ORDER BY position"):
            includes[row["procedure"]].append(row["included"])
        apps_by_entry: dict[int, list[AppCall]] = {}
        for row in store.all("SELECT entry_id, app, params FROM dialplan_apps ORDER BY entry_id, position"):
            params = json.loads(row["params"])
            cls_ = known.get(row["app"])
            app = None
            if cls_ is not None:
                try:
                    app = cls_(params)
                except ValidationError as err:
                    log.error("dialplan: %s in entry %s has bad parameters: %s", row["app"], row["entry_id"], err)
            apps_by_entry.setdefault(row["entry_id"], []).append(AppCall(row["app"], params, app))
        for row in store.all("SELECT id, procedure, pattern FROM dialplan_entries ORDER BY position"):
            try:
                pattern = compile_pattern(row["pattern"])
            except ValidationError as err:
                log.error("dialplan: procedure %s: %s", row["procedure"], err)
                continue
            procs[row["procedure"]].append(Entry(pattern, tuple(apps_by_entry.get(row["id"], ()))))
        return cls({
            name: Procedure(name, tuple(entries), tuple(includes[name]))
            for name, entries in procs.items()
        })

    def _search_order(self, procedure: str) -> list[Procedure]:
        order: list[Procedure] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in self.procedures:
                return
            seen.add(name)
            proc = self.procedures[name]
            order.append(proc)
            for included in proc.includes:
                visit(included)

        visit(procedure)
        return order

    def lookup(self, procedure: str, called: str) -> tuple[Procedure, Entry] | None:
        order = self._search_order(procedure)
        for want_default in (False, True):
            for proc in order:
                candidates = [e.pattern for e in proc.entries if e.pattern.is_default == want_default]
                found = best_match(candidates, called)
                if found is not None:
                    entry = next(e for e in proc.entries if e.pattern is found)
                    return proc, entry
        return None


async def run(dialplan: Dialplan, ctx: CallContext) -> Outcome:
    """Run the call through the dialplan, starting in ``ctx.procedure``."""
    trace: list[str] = []

    def note(text: str) -> None:
        trace.append(text)
        ctx.trace(text)

    procedure = ctx.procedure
    for _ in range(MAX_JUMPS + 1):
        if procedure not in dialplan.procedures:
            note(f"procedure {procedure!r} does not exist")
            return Outcome(CallEnd.NO_MATCH, 404, "Not Found", tuple(trace))
        found = dialplan.lookup(procedure, ctx.called)
        if found is None:
            note(f"{procedure}: no entry matches {ctx.called!r}")
            return Outcome(CallEnd.NO_MATCH, 404, "Not Found", tuple(trace))
        proc, entry = found
        note(f"{procedure}: {ctx.called!r} matches {entry.pattern.text!r} in {proc.name}")
        jump = None
        for call in entry.apps:
            if call.app is None:
                note(f"application {call.name!r} not available")
                await ctx.hangup(503, f"application {call.name} not available")
                return Outcome(CallEnd.HANGUP, 503, f"application {call.name} not available", tuple(trace))
            step = await call.app.run(ctx)
            if isinstance(step, Stop):
                last = getattr(ctx, "last_dial", None)
                end = CallEnd.COMPLETED if ctx.answered or (last and last.status == DialStatus.ANSWERED) else CallEnd.HANGUP
                return Outcome(end, 0, "", tuple(trace))
            if isinstance(step, Jump):
                jump = step
                break
        if jump is None:
            return _exhausted(ctx, trace)
        note(f"jump to {jump.procedure}" + (f" with {jump.called!r}" if jump.called else ""))
        procedure = jump.procedure
        if jump.called is not None:
            ctx.called = jump.called
    note(f"more than {MAX_JUMPS} jumps: call cut")
    await ctx.hangup(482, "Loop Detected")
    return Outcome(CallEnd.HANGUP, 482, "Loop Detected", tuple(trace))


def _exhausted(ctx: CallContext, trace: list[str]) -> Outcome:
    last = getattr(ctx, "last_dial", None)
    if last is not None and last.status in DIAL_STATUS_SIP:
        code, reason = DIAL_STATUS_SIP[last.status]
        if last.sip_code and last.status in (DialStatus.REJECTED, DialStatus.FAILED, DialStatus.BUSY):
            code, reason = last.sip_code, last.reason or reason
        return Outcome(CallEnd.EXHAUSTED, code, reason, tuple(trace))
    return Outcome(CallEnd.EXHAUSTED, 480, "Temporarily Unavailable", tuple(trace))
