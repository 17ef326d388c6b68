"""The dialplan engine: find the entry for a called number and run its applications.

``Dialplan.load(store)`` compiles the procedures once per configuration load (an
immutable snapshot; a reload builds a new one). Call-group memory (round-robin
position, last answers) is the one mutable part: it belongs to the store
(``memory_of``), so every snapshot of one daemon shares it. It also snapshots what applications read: time
ranges, switches, call groups, users with their call preferences, ACL groups,
the call-class rules and the PBX time zone. ``run(dialplan, ctx)`` walks the call
through procedures, entries and applications and returns an ``Outcome`` telling
the call engine what the caller should get if nothing answered.

Lookup in a procedure: its own entries first, then its included procedures in
order (seed: "Procédures incluses"); ``default`` entries only when no other entry
of the procedure or its includes matches. Jumps are bounded (``MAX_JUMPS``).

Rule: the engine decides nothing about routing itself — every decision comes
from stored data through an application. It never does SIP: it only uses the
``CallContext``.
"""

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from wpbxd.config import settings
from wpbxd.config.store import Store
from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan import timeranges
from wpbxd.telephony.dialplan.apps.base import Application, Jump, Step, Stop
from wpbxd.telephony.dialplan.apps.registry import applications
from wpbxd.telephony.dialplan.callclass import ClassRules
from wpbxd.telephony.dialplan.context import CallContext, CallEnd, DialResult, DialStatus, Outcome
from wpbxd.telephony.dialplan.model import (
    CallGroup,
    CallPrefs,
    GroupMemory,
    Member,
    Switch,
    UserInfo,
)
from wpbxd.telephony.dialplan.patterns import Pattern, compile_pattern

log = logging.getLogger(__name__)

MAX_JUMPS = 20
APP_CACHE = 65536  # compiled applications kept across reloads
DEFAULT_RING_TIME = 60  # seconds, when the setting is missing
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
    error: str = ""          # why it is None when the application exists


@dataclass(frozen=True)
class Entry:
    pattern: Pattern
    apps: tuple[AppCall, ...]


class _Index:
    """Fast lookup of the most specific entry of one procedure.

    Exact numbers sit in a dict; patterns are bucketed by the characters their
    first position admits, each bucket sorted by specificity, and each pattern
    carries its length bounds so that most candidates are refused without the
    regular expression.
    """

    ANY = ""

    def __init__(self, entries: tuple[Entry, ...]) -> None:
        self.exact: dict[str, Entry] = {}
        self.default: Entry | None = None
        buckets: dict[str, list[Entry]] = {}
        for entry in entries:
            p = entry.pattern
            if p.is_default:
                self.default = self.default or entry
            elif p.exact:
                self.exact.setdefault(p.text, entry)
            else:
                for first in p.first_chars or (self.ANY,):
                    buckets.setdefault(first, []).append(entry)
        wild = buckets.pop(self.ANY, [])
        self.buckets: dict[str, tuple[Entry, ...]] = {
            first: tuple(sorted(items + wild, key=lambda e: e.pattern.sort_key))
            for first, items in buckets.items()
        }
        self.wild = tuple(sorted(wild, key=lambda e: e.pattern.sort_key))

    def find(self, number: str) -> Entry | None:
        found = self.exact.get(number)
        if found is not None:
            return found
        size = len(number)
        for entry in self.buckets.get(number[:1], self.wild):
            p = entry.pattern
            if size < p.min_len or (p.max_len is not None and size > p.max_len):
                continue
            if p.regex is not None and p.regex.fullmatch(number):
                return entry
        return None


@dataclass(frozen=True)
class Procedure:
    name: str
    entries: tuple[Entry, ...]
    includes: tuple[str, ...]
    index: _Index | None = field(default=None, compare=False, repr=False)

    def find(self, number: str) -> Entry | None:
        index = self.index or _Index(self.entries)
        return index.find(number)


class Dialplan:
    def __init__(self, procedures: dict[str, Procedure], *,
                 time_ranges: dict[str, timeranges.TimeRange] | None = None,
                 switches: dict[str, Switch] | None = None,
                 groups: dict[str, CallGroup] | None = None,
                 users: dict[str, UserInfo] | None = None,
                 acl: dict[str, frozenset[str]] | None = None,
                 rules: ClassRules | None = None,
                 tz: str = "UTC", ring_time: int = DEFAULT_RING_TIME,
                 memory: GroupMemory | None = None) -> None:
        self.procedures = {
            name: p if p.index else Procedure(p.name, p.entries, p.includes, _Index(p.entries))
            for name, p in procedures.items()
        }
        self.time_ranges = time_ranges or {}
        self.switches = switches or {}
        self.groups = groups or {}
        self.users = users or {}
        self.by_mobility = {u.mobility: u for u in self.users.values() if u.mobility}
        self.extensions = frozenset(self.users)
        self.acl = acl or {}
        self.rules = rules or ClassRules()
        self.tz = ZoneInfo(tz)
        self.ring_time = ring_time
        self.memory = memory or GroupMemory()
        self._orders = {name: self._search_order(name) for name in self.procedures}

    @classmethod
    def load(cls, store: Store, previous: "Dialplan | None" = None) -> "Dialplan":
        known = applications()
        procs: dict[str, list[Entry]] = {r["name"]: [] for r in store.all("SELECT name FROM procedures")}
        includes: dict[str, list[str]] = {name: [] for name in procs}
        for row in store.all("SELECT procedure, included FROM procedure_includes ORDER BY position"):
            includes[row["procedure"]].append(row["included"])
        apps_by_entry: dict[int, list[AppCall]] = {}
        for row in store.all("SELECT entry_id, app, params FROM dialplan_apps ORDER BY entry_id, position"):
            call = _app_call(row["app"], row["params"]) if row["app"] in known else None
            if call is None:
                call = AppCall(row["app"], json.loads(row["params"]), None)
            elif call.error:
                log.error("dialplan: %s in entry %s has %s", row["app"], row["entry_id"], call.error)
            apps_by_entry.setdefault(row["entry_id"], []).append(call)
        for row in store.all("SELECT id, procedure, pattern FROM dialplan_entries ORDER BY procedure, position"):
            try:
                pattern = compile_pattern(row["pattern"])
            except ValidationError as err:
                log.error("dialplan: procedure %s: %s", row["procedure"], err)
                continue
            procs[row["procedure"]].append(Entry(pattern, tuple(apps_by_entry.get(row["id"], ()))))
        values = settings.get_all(store)
        try:
            tz = str(timeranges.zone(values["pbx.timezone"]).key)
        except ValidationError as err:
            log.error("dialplan: %s; using UTC", err)
            tz = "UTC"
        return cls(
            {name: Procedure(name, tuple(entries), tuple(includes[name])) for name, entries in procs.items()},
            time_ranges=_load_time_ranges(store), switches=_load_switches(store),
            groups=_load_groups(store), users=_load_users(store), acl=_load_acl(store),
            rules=ClassRules.from_settings(values), tz=tz,
            ring_time=int(values.get("sip.ring_timeout", DEFAULT_RING_TIME)),
            memory=previous.memory if previous is not None else memory_of(store),
        )

    def _search_order(self, procedure: str) -> tuple[Procedure, ...]:
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
        return tuple(order)

    def lookup(self, procedure: str, called: str) -> tuple[Procedure, Entry] | None:
        order = self._orders.get(procedure, ())
        for proc in order:
            entry = proc.find(called)
            if entry is not None:
                return proc, entry
        for proc in order:
            if proc.index is not None and proc.index.default is not None:
                return proc, proc.index.default
        return None


@lru_cache(maxsize=APP_CACHE)
def _app_call(name: str, params_json: str) -> AppCall:
    """One compiled application; cached by its stored text, since applications are
    immutable once built (a reload after a switch flip rebuilds nothing)."""
    params = json.loads(params_json)
    try:
        return AppCall(name, params, applications()[name](params))
    except ValidationError as err:
        return AppCall(name, params, None, f"bad parameters: {err}")


_MEMORIES: dict[str, GroupMemory] = {}


def memory_of(store: Store) -> GroupMemory:
    """The call-group memory of one store (one per daemon).

    Every snapshot compiled from the same store shares it, so a round-robin
    group keeps its place across reloads and whichever service compiled the
    snapshot (the call engine, the dialplan service's trace) sees the same state.
    """
    return _MEMORIES.setdefault(str(store.path.resolve()), GroupMemory())


def _load_time_ranges(store: Store) -> dict[str, timeranges.TimeRange]:
    out = {}
    for row in store.all("SELECT name, weekly, exceptions FROM time_ranges"):
        try:
            out[row["name"]] = timeranges.build(row["name"], row["weekly"], row["exceptions"])
        except (ValidationError, ValueError) as err:
            log.error("dialplan: time range %s is unreadable: %s", row["name"], err)
    return out


def _load_switches(store: Store) -> dict[str, Switch]:
    return {r["name"]: Switch(r["name"], r["states"], r["state"])
            for r in store.all("SELECT name, states, state FROM switches")}


def _load_groups(store: Store) -> dict[str, CallGroup]:
    members: dict[str, list[Member]] = {}
    for r in store.all("SELECT m.group_name, u.extension, m.ring_time FROM call_group_members m"
                       " JOIN users u ON u.id = m.user_id WHERE u.extension IS NOT NULL"
                       " ORDER BY m.group_name, m.position"):
        members.setdefault(r["group_name"], []).append(Member(r["extension"], r["ring_time"]))
    return {r["name"]: CallGroup(r["name"], r["strategy"], r["ring_time"], r["timeout"],
                                 bool(r["ring_in_use"]), tuple(members.get(r["name"], ())))
            for r in store.all("SELECT * FROM call_groups")}


def _load_users(store: Store) -> dict[str, UserInfo]:
    prefs: dict[int, dict[str, CallPrefs]] = {}
    for r in store.all("SELECT * FROM user_call_prefs"):
        prefs.setdefault(r["user_id"], {})[r["call_class"]] = CallPrefs(
            dnd=bool(r["dnd"]), fwd_always=r["fwd_always"], fwd_busy=r["fwd_busy"],
            fwd_unavailable=r["fwd_unavailable"], call_waiting=bool(r["call_waiting"]),
            call_timeout=r["call_timeout"], mobility_delay=r["mobility_delay"],
            missed_email=bool(r["missed_email"]),
        )
    users = {
        r["extension"]: UserInfo(r["id"], r["extension"], r["name"], r["email"], r["mobility"],
                                 _shared(r["dialplan"]), _shared(r["acl_group"]), prefs.get(r["id"], {}))
        for r in store.all("SELECT id, extension, name, email, mobility, dialplan, acl_group"
                           " FROM users WHERE extension IS NOT NULL")
    }
    # Several snapshots live at once (the call engine's, the dialplan service's): when the
    # users did not change they share one table instead of a copy each (~0.4 KB per user).
    global _last_users
    if users == _last_users:
        return _last_users
    _last_users = users
    return users


_last_users: dict[str, UserInfo] = {}     # the last table _load_users built (read-only, shared)


def _shared(name: str | None) -> str | None:
    """One copy of a name that thousands of users repeat (procedure, ACL group)."""
    return sys.intern(name) if name else name


def _load_acl(store: Store) -> dict[str, frozenset[str]]:
    out = {}
    for r in store.all("SELECT name, allowed_classes FROM acl_groups"):
        try:
            out[r["name"]] = frozenset(json.loads(r["allowed_classes"]))
        except ValueError:
            log.error("dialplan: ACL group %s has unreadable classes; it allows nothing", r["name"])
            out[r["name"]] = frozenset()
    return out


@dataclass
class RunEnv:
    """What applications see of the engine during one call (besides the context)."""

    plan: Dialplan
    ctx: CallContext
    clock: Callable[[], float] = time.time
    trace_lines: list[str] = field(default_factory=list)
    last_dial: DialResult | None = None
    hangup_code: int = 0
    hangup_reason: str = ""
    acl_user: UserInfo | None = None   # whose ACL applies to numbers dialled (caller, or forwarder)
    acl_set: bool = False
    acl_number: str = ""               # the number as that user dialled it (classified for the ACL)
    diverted: "asyncio.Future[Jump] | None" = None  # set by ``divert``: stop the running application
    tasks: set = field(default_factory=set)         # background work of applications (``background``)

    def trace(self, text: str) -> None:
        """Record one trace line and hand it to the call engine's live debug."""
        self.trace_lines.append(text)
        self.ctx.trace(text)

    def now_local(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), self.plan.tz)

    def caller_user(self, ctx: CallContext) -> UserInfo | None:
        return self.plan.users.get(ctx.caller_number)

    def call_class(self, ctx: CallContext) -> str:
        """The class the callee's preferences are chosen by: internal or external."""
        return "internal" if ctx.caller_number in self.plan.users else "external"

    def acl_subject(self, ctx: CallContext) -> UserInfo | None:
        return self.acl_user if self.acl_set else self.caller_user(ctx)

    async def hangup(self, ctx: CallContext, code: int, reason: str) -> None:
        self.hangup_code, self.hangup_reason = code, reason
        await ctx.hangup(code, reason)

    def divert(self, jump: Jump) -> None:
        """Stop the application running now and continue the call at ``jump`` (fax
        detection with "continue execution": a fax heard while a group rings)."""
        if self.diverted is None:
            self.diverted = asyncio.get_running_loop().create_future()
        if not self.diverted.done():
            self.diverted.set_result(jump)

    def background(self, work: Coroutine) -> None:
        """Run ``work`` beside the dialplan until the call's dialplan ends."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run_app(self, app: Application, ctx: CallContext) -> "Step":
        """``app.run`` unless ``divert`` interrupts it, in which case the jump is the step."""
        if self.diverted is not None and self.diverted.done():
            jump, self.diverted = self.diverted.result(), None
            return jump
        if not self.tasks:
            return await app.run(ctx, self)
        if self.diverted is None:
            self.diverted = asyncio.get_running_loop().create_future()
        running = asyncio.ensure_future(app.run(ctx, self))
        await asyncio.wait({running, self.diverted}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            return running.result()
        running.cancel()
        try:
            await running
        except asyncio.CancelledError:
            pass
        jump, self.diverted = self.diverted.result(), None
        return jump


async def run(dialplan: Dialplan, ctx: CallContext, clock: Callable[[], float] = time.time) -> Outcome:
    """Run the call through the dialplan, starting in ``ctx.procedure``."""
    env = RunEnv(dialplan, ctx, clock, acl_number=ctx.called)
    try:
        return await _walk(dialplan, ctx, env, env.trace)
    finally:
        for task in list(env.tasks):
            task.cancel()


async def run_application(dialplan: Dialplan, ctx: CallContext, app: Application,
                          clock: Callable[[], float] = time.time) -> Outcome:
    """Run one application for ``ctx`` outside any procedure (a call the PBX placed to
    run it, e.g. recording a sound by phone); a jump it asks for is not followed."""
    env = RunEnv(dialplan, ctx, clock, acl_number=ctx.called)
    env.trace(f"application {app.name}")
    try:
        await env.run_app(app, ctx)
    finally:
        for task in list(env.tasks):
            task.cancel()
    if env.hangup_code:
        return Outcome(CallEnd.HANGUP, env.hangup_code, env.hangup_reason, tuple(env.trace_lines))
    return Outcome(CallEnd.COMPLETED, 0, "", tuple(env.trace_lines))


async def _walk(dialplan: Dialplan, ctx: CallContext, env: RunEnv, note: Callable[[str], None]) -> Outcome:
    trace = env.trace_lines
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
        where = proc.name if proc.name == procedure else f"{proc.name} (included by {procedure})"
        note(f"{procedure}: {ctx.called!r} matches {entry.pattern.text!r} in {where}")
        jump = None
        for call in entry.apps:
            if call.app is None:
                why = call.error or "not available"
                note(f"application {call.name!r} {why}")
                await env.hangup(ctx, 503, f"application {call.name} {why}")
                return Outcome(CallEnd.HANGUP, 503, f"application {call.name} {why}", tuple(trace))
            step = await env.run_app(call.app, ctx)
            if isinstance(step, Stop):
                last = env.last_dial
                if ctx.answered or (last is not None and last.status == DialStatus.ANSWERED):
                    return Outcome(CallEnd.COMPLETED, 0, "", tuple(trace))
                return Outcome(CallEnd.HANGUP, env.hangup_code, env.hangup_reason, tuple(trace))
            if isinstance(step, Jump):
                jump = step
                break
        if jump is None:
            return _exhausted(env)
        note(f"jump to {jump.procedure}" + (f" with {jump.called!r}" if jump.called else ""))
        procedure = jump.procedure
        if jump.called is not None:
            ctx.called = jump.called
    note(f"more than {MAX_JUMPS} jumps: call cut")
    await env.hangup(ctx, 482, "Loop Detected")
    return Outcome(CallEnd.HANGUP, 482, "Loop Detected", tuple(trace))


def _exhausted(env: RunEnv) -> Outcome:
    last = env.last_dial
    trace = tuple(env.trace_lines)
    if last is not None and last.status in DIAL_STATUS_SIP:
        code, reason = DIAL_STATUS_SIP[last.status]
        if last.sip_code and last.status in (DialStatus.REJECTED, DialStatus.FAILED, DialStatus.BUSY):
            code, reason = last.sip_code, last.reason or reason
        return Outcome(CallEnd.EXHAUSTED, code, reason, trace)
    return Outcome(CallEnd.EXHAUSTED, 480, "Temporarily Unavailable", trace)
