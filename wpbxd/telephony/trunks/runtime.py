"""Live trunks on the SIP stack: registrations, keep-alives, peers that register to us.

Responsible for: one ``RegistrationClient`` per registering trunk and one
``KeepAlive`` per trunk with keep-alive on, driven by one loop task that sleeps
until the nearest deadline; resolving each trunk's targets (RFC 3263, through
the injectable ``Lookup``) and failing over to the next target when one times
out or answers 503; accepting REGISTER from the peer of a ``dynamic`` trunk
(digest against the trunk's login and password); recognising which trunk an
incoming request comes from (its provider addresses or its registered peer);
counting calls per trunk; and the live status of every trunk.

It must not route calls or read the dialplan: the call engine asks
``available``/``seize``/``release`` and ``match_source``.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wpbxd.telephony.sip.digest import DigestAuthenticator, parse_credentials
from wpbxd.telephony.sip.message import Request, Response, make_response
from wpbxd.telephony.sip.stack import SipStack, random_token
from wpbxd.telephony.sip.transaction import Target, Transaction
from wpbxd.telephony.sip.uri import SipSyntaxError, parse_address
from wpbxd.telephony.trunks.keepalive import KeepAlive
from wpbxd.telephony.trunks.model import Trunk
from wpbxd.telephony.trunks.registration import (
    DOWN,
    FAILED,
    REGISTERED,
    UNREGISTERED,
    RegistrationClient,
    RegistrationStatus,
)
from wpbxd.telephony.trunks.resolver import Lookup, ResolveError, resolve

log = logging.getLogger(__name__)

RESOLVE_TTL = 300.0          # seconds a resolution is reused
IDLE_WAKE = 30.0             # seconds the loop sleeps when nothing is due
PEER_MIN_EXPIRES = 60
PEER_MAX_EXPIRES = 3600
MIN_SLEEP = 0.01             # seconds; the loop always yields
FAILOVER_STATUSES = (503,)
UNREGISTER_WAIT = 2.0        # seconds stop() waits for the providers' answers   # RFC 3263 §4.3: try the next target


@dataclass
class PeerBinding:
    contact: str
    source: Target
    expires_at: float


@dataclass
class TrunkState:
    trunk: Trunk
    registration: RegistrationClient | None = None
    keepalive: KeepAlive | None = None
    targets: list[Target] = field(default_factory=list)
    target_index: int = 0
    resolved_at: float = 0.0
    resolve_error: str = ""
    peer: PeerBinding | None = None
    calls: int = 0
    last_error: str = ""

    @property
    def target(self) -> Target | None:
        if not self.targets:
            return None
        return self.targets[self.target_index % len(self.targets)]


class TrunkRuntime:
    def __init__(self, stack: SipStack, lookup: Lookup, realm: str = "wpbx",
                 clock: Callable[[], float] = time.time, retry_base: float | None = None,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.stack = stack
        self.lookup = lookup
        self.clock = clock
        self.retry_base = retry_base
        self.on_change = on_change or (lambda name: None)
        self.digest = DigestAuthenticator(realm)
        self.states: dict[str, TrunkState] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._busy: set[str] = set()          # trunks with a send in progress (resolving)

    # -- life ------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the loop; registered trunks remove their binding first (at most UNREGISTER_WAIT)."""
        registered = [s for s in self.states.values()
                      if s.registration is not None and s.registration.status.state == REGISTERED]
        if registered:
            await asyncio.wait([asyncio.ensure_future(self.unregister(s)) for s in registered],
                               timeout=UNREGISTER_WAIT)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def configure(self, trunks: list[Trunk]) -> None:
        """Adopt the stored trunks; unchanged trunks keep their live state."""
        now = self.clock()
        states: dict[str, TrunkState] = {}
        for trunk in trunks:
            old = self.states.get(trunk.name)
            if old is not None and old.trunk == trunk:
                states[trunk.name] = old
                continue
            if old is not None and old.registration is not None and old.registration.status.state == REGISTERED:
                self._spawn(self.unregister(old))
            state = TrunkState(trunk)
            if old is not None:
                state.peer, state.calls = old.peer, old.calls
            if trunk.register:
                kwargs = {"retry_base": self.retry_base} if self.retry_base else {}
                state.registration = RegistrationClient(trunk.user, trunk.sip_domain, trunk.login, trunk.password,
                                                        trunk.register_expires, **kwargs)
            if trunk.keepalive:
                state.keepalive = KeepAlive(float(trunk.keepalive), now=now)
            states[trunk.name] = state
        for name, old in self.states.items():
            if name not in states and old.registration is not None and old.registration.status.state == REGISTERED:
                self._spawn(self.unregister(old))
        self.states = states
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------
    def _next_deadline(self) -> float:
        deadlines = [self.clock() + IDLE_WAKE]
        for state in self.states.values():
            if state.trunk.name in self._busy:
                continue
            for machine in (state.registration, state.keepalive):
                if machine is not None:
                    when = machine.get_timer()
                    if when is not None:
                        deadlines.append(when)
        return min(deadlines)

    async def _run(self) -> None:
        while True:
            delay = max(0.0, self._next_deadline() - self.clock())
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(delay, MIN_SLEEP))
            except TimeoutError:
                pass
            try:
                self._step()
            except Exception:
                log.exception("trunks: housekeeping failed")

    def _step(self) -> None:
        now = self.clock()
        for state in list(self.states.values()):
            name = state.trunk.name
            if name in self._busy:
                continue
            if not state.trunk.dynamic and not state.targets and now - state.resolved_at >= RESOLVE_TTL:
                state.resolved_at = now          # tried once per TTL even when it fails
                self._spawn(self._prefetch(state))
            reg = state.registration
            if reg is not None:
                reg.handle_timer(now)
                if reg.due(now):
                    self._busy.add(name)
                    self._spawn(self._send_register(state))
                    continue
            ka = state.keepalive
            if ka is not None:
                if ka.handle_timer(now):
                    log.warning("trunk %s: keep-alive unanswered, marked down", name)
                    state.last_error = "keep-alive unanswered"
                    self._advance_target(state)
                    self.on_change(name)
                if ka.due(now):
                    self._busy.add(name)
                    self._spawn(self._send_options(state))
            if state.peer is not None and state.peer.expires_at <= now:
                log.info("trunk %s: the peer's registration expired", name)
                state.peer = None
                self.on_change(name)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(lambda t: t.cancelled() or t.exception() and log.error(
            "trunks: %s", t.exception()))

    # -- targets ---------------------------------------------------------------------------
    async def targets(self, state: TrunkState) -> list[Target]:
        """The trunk's resolved targets (cached ``RESOLVE_TTL``); the peer's source for a dynamic trunk."""
        trunk = state.trunk
        if trunk.dynamic:
            return [state.peer.source] if state.peer is not None else []
        now = self.clock()
        if state.targets and now - state.resolved_at < RESOLVE_TTL:
            return state.targets
        return await self._resolve(state)

    async def _resolve(self, state: TrunkState) -> list[Target]:
        trunk = state.trunk
        now = self.clock()
        try:
            state.targets = await resolve(trunk.hostname, trunk.port, self.lookup)
            state.resolve_error = ""
            state.target_index = 0
        except ResolveError as err:
            state.resolve_error = str(err)
            if not state.targets:
                raise
        state.resolved_at = now
        return state.targets

    async def _prefetch(self, state: TrunkState) -> None:
        """Resolve a trunk early: incoming calls are recognised by its addresses."""
        try:
            await self._resolve(state)
        except ResolveError as err:
            state.resolve_error = str(err)

    def _advance_target(self, state: TrunkState) -> None:
        if len(state.targets) > 1:
            state.target_index = (state.target_index + 1) % len(state.targets)
            log.info("trunk %s: failing over to %s:%s", state.trunk.name, *state.target[1:])

    # -- REGISTER ----------------------------------------------------------------------
    async def _send_register(self, state: TrunkState) -> None:
        reg = state.registration
        assert reg is not None
        name = state.trunk.name
        try:
            await self.targets(state)
            target = state.target
        except ResolveError as err:
            reg.unreachable(self.clock(), str(err))
            state.last_error = str(err)
            self.on_change(name)
            return
        finally:
            self._busy.discard(name)
        if target is None or state.registration is not reg:
            return
        req = reg.build(self.clock(), self.stack.via(target), self.stack.contact(target, user=state.trunk.user))
        txn = self.stack.send_request(req, target)
        before = reg.status.state

        def on_response(t: Transaction, resp: Response) -> None:
            reg.on_response(resp, self.clock())
            if resp.status in FAILOVER_STATUSES:
                self._advance_target(state)
            self._after_register(state, before)

        def on_timeout(t: Transaction) -> None:
            reg.on_timeout(self.clock())
            self._advance_target(state)
            self._after_register(state, before)

        txn.on_response = on_response
        txn.on_timeout = on_timeout

    def _after_register(self, state: TrunkState, before: str) -> None:
        reg = state.registration
        assert reg is not None
        status = reg.status
        if status.state in (FAILED, DOWN):
            state.last_error = status.reason
            if before != status.state:
                log.warning("trunk %s: registration %s: %s", state.trunk.name, status.state, status.reason)
        elif status.state == REGISTERED and before != REGISTERED:
            log.info("trunk %s: registered at %s:%s", state.trunk.name, *state.target[1:])
        if before != status.state:
            self.on_change(state.trunk.name)
        self._wake.set()

    async def unregister(self, state: TrunkState) -> bool:
        """Remove the provider's binding of this trunk (``Expires: 0``, one challenge answered)."""
        reg = state.registration
        target = state.target
        if reg is None or target is None:
            return False
        contact = self.stack.contact(target, user=state.trunk.user)
        challenge: Response | None = None
        for _ in range(2):
            req = reg.build_unregister(self.stack.via(target), contact, challenge)
            resp = await self._request(req, target)
            if resp is None or resp.status not in (401, 407):
                ok = resp is not None and 200 <= resp.status < 300
                if ok:
                    reg.status = RegistrationStatus(UNREGISTERED, since=self.clock())
                log.info("trunk %s: unregistered%s", state.trunk.name, "" if ok else " (no clean answer)")
                return ok
            challenge = resp
        return False

    async def _request(self, req: Request, target: Target) -> Response | None:
        """Send ``req`` and wait for its final response (None on a transaction timeout)."""
        done: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_response(t: Transaction, resp: Response) -> None:
            if resp.status >= 200 and not done.done():
                done.set_result(resp)

        def on_timeout(t: Transaction) -> None:
            if not done.done():
                done.set_result(None)

        txn = self.stack.send_request(req, target)
        txn.on_response = on_response
        txn.on_timeout = on_timeout
        return await done

    # -- OPTIONS -------------------------------------------------------------------------
    async def _send_options(self, state: TrunkState) -> None:
        ka = state.keepalive
        assert ka is not None
        name = state.trunk.name
        try:
            await self.targets(state)
            target = state.target
        except ResolveError as err:
            state.last_error = str(err)
            target = None
        finally:
            self._busy.discard(name)
        ka.sending(self.clock())
        self._wake.set()
        if target is None:
            return
        trunk = state.trunk
        domain = trunk.sip_domain or target[1]
        req = Request("OPTIONS", f"sip:{domain}" if not trunk.dynamic else (
            state.peer.contact if state.peer else f"sip:{target[1]}:{target[2]}"), {
            "via": [self.stack.via(target)], "max-forwards": ["70"],
            "from": [f"<sip:{trunk.user}@{domain}>;tag={random_token(4)}"],
            "to": [f"<sip:{domain}>"], "call-id": [random_token(10)], "cseq": ["1 OPTIONS"],
            "content-length": ["0"]})
        txn = self.stack.send_request(req, target)

        def on_response(t: Transaction, resp: Response) -> None:
            if resp.status >= 200 and ka.answered(self.clock()):
                log.info("trunk %s: keep-alive answered again, marked up", name)
                state.last_error = ""
                self.on_change(name)
            self._wake.set()

        txn.on_response = on_response

    # -- peers registering to a dynamic trunk ------------------------------------------------
    def peer_trunk(self, req: Request) -> TrunkState | None:
        """The dynamic trunk this REGISTER is for (To user or credentials' username = its login)."""
        names = set()
        try:
            names.add(req.address("to").uri.user)
        except (SipSyntaxError, ValueError):
            pass
        for value in req.get_all("authorization"):
            try:
                names.add(parse_credentials(value).username)
            except ValueError:
                pass
        for state in self.states.values():
            if state.trunk.dynamic and state.trunk.login in names:
                return state
        return None

    def handle_peer_register(self, state: TrunkState, req: Request, source: Target) -> tuple[Response, bool]:
        """Answer a REGISTER of a dynamic trunk's peer; the flag says whether it failed authentication."""
        now = self.clock()
        trunk = state.trunk
        values = req.get_all("authorization")
        creds = None
        for value in values:
            try:
                creds = parse_credentials(value)
            except ValueError:
                continue
            if creds.username == trunk.login:
                break
            creds = None
        if creds is None:
            return self._challenge(req, now, stale=False), False
        verdict = self.digest.verify(creds, req.method, trunk.password, now)
        if verdict.stale:
            return self._challenge(req, now, stale=True), False
        if not verdict.ok:
            state.last_error = f"peer {source[1]} failed authentication ({verdict.reason})"
            self.on_change(trunk.name)
            return make_response(req, 403, "Forbidden", random_token(4)), True
        try:
            contact = parse_address(req.get_all("contact")[0]) if req.get_all("contact") else None
        except (SipSyntaxError, ValueError):
            return make_response(req, 400, "Bad Contact", random_token(4)), False
        try:
            asked = int((contact.params.get("expires") if contact else None) or req.get("expires") or 3600)
        except ValueError:
            asked = 3600
        if contact is None or contact.wildcard or asked == 0:
            state.peer = None
            self.on_change(trunk.name)
            return make_response(req, 200, "OK", random_token(4)), False
        expires = max(PEER_MIN_EXPIRES, min(PEER_MAX_EXPIRES, asked))
        changed = state.peer is None or state.peer.source != source
        state.peer = PeerBinding(str(contact.uri), source, now + expires)
        state.last_error = ""
        if changed:
            log.info("trunk %s: peer registered from %s:%s", trunk.name, source[1], source[2])
            self.on_change(trunk.name)
        return make_response(req, 200, "OK", random_token(4),
                             [("contact", f"<{contact.uri}>;expires={expires}"), ("expires", str(expires))]), False

    def _challenge(self, req: Request, now: float, stale: bool) -> Response:
        extra = [("www-authenticate", c) for c in self.digest.challenge(now, stale)]
        return make_response(req, 401, "Unauthorized", random_token(4), extra)

    # -- what the call engine asks -------------------------------------------------------------
    def match_source(self, host: str, port: int = 0) -> Trunk | None:
        """The trunk an incoming request from ``host``:``port`` belongs to, if any.

        A dynamic trunk matches its registered peer's address and port. A trunk
        whose host was given with an explicit port matches that address and port
        only (several peers may share an address); otherwise any port of its
        resolved addresses matches (providers send from more ports than one).
        """
        for state in self.states.values():
            trunk = state.trunk
            if trunk.dynamic:
                if state.peer is not None and state.peer.source[1:] == (host, port):
                    return trunk
                continue
            explicit = trunk.port
            addresses = [(t[1], t[2]) for t in state.targets] or [(trunk.hostname, explicit or 5060)]
            if explicit is not None:
                if (host, port) in addresses:
                    return trunk
            elif any(a == host for a, _ in addresses):
                return trunk
        return None

    def available(self, name: str, limit: int = 0) -> tuple[bool, str]:
        """Can a call be sent on this trunk now? (False, why) when down or full."""
        state = self.states.get(name)
        if state is None:
            return False, "no such trunk"
        if state.keepalive is not None and not state.keepalive.up:
            return False, "down (keep-alive unanswered)"
        if state.registration is not None and state.registration.status.state == DOWN:
            return False, f"down ({state.registration.status.reason})"
        if state.trunk.dynamic and state.peer is None:
            return False, "down (the peer is not registered)"
        limits = [x for x in (limit, state.trunk.max_calls) if x]
        if limits and state.calls >= min(limits):
            return False, f"at its limit of {min(limits)} simultaneous calls"
        return True, ""

    def seize(self, name: str) -> None:
        self.states[name].calls += 1

    def release(self, name: str) -> None:
        state = self.states.get(name)
        if state is not None and state.calls > 0:
            state.calls -= 1

    def status(self) -> list[dict[str, Any]]:
        now = self.clock()
        out = []
        for name in sorted(self.states):
            state = self.states[name]
            trunk = state.trunk
            row: dict[str, Any] = {"name": name, "title": trunk.title, "host": trunk.host,
                                   "country_code": trunk.country_code, "calls": state.calls,
                                   "registered_to": "", "registered_from": "", "expires_in": None,
                                   "last_error": state.last_error or state.resolve_error,
                                   "target": "" if state.target is None else f"{state.target[1]}:{state.target[2]}"}
            if trunk.dynamic:
                if state.peer is not None:
                    row["status"] = "registered"
                    row["registered_from"] = f"{state.peer.source[1]}:{state.peer.source[2]}"
                    row["expires_in"] = max(0, round(state.peer.expires_at - now))
                else:
                    row["status"] = "unregistered"
            elif state.registration is not None:
                reg = state.registration.status
                row["status"] = reg.state
                if reg.state == REGISTERED:
                    row["registered_to"] = row["target"]
                    row["expires_in"] = max(0, round((reg.expires_at or now) - now))
                if reg.reason:
                    row["last_error"] = reg.reason
            else:
                row["status"] = "up"
            if state.keepalive is not None:
                row["keepalive"] = "up" if state.keepalive.up else "down"
                if not state.keepalive.up:
                    row["status"] = "down"
            out.append(row)
        return out
