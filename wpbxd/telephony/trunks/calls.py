"""Calls through trunks: the call engine's trunk side (outgoing legs, incoming calls, cost).

``TrunkB2bua`` extends the B2BUA with:
- ``dial_trunk``: one outgoing leg to a trunk — refused at once when the trunk
  is down or at its call limit; INVITE to ``sip:NUMBER@DOMAIN`` (the peer's
  registered contact for a ``dynamic`` trunk) with From user = the trunk's
  From user or the caller's number; a 401/407 answered once with the trunk's
  login and password; a 503 or a timeout fails over to the next RFC 3263
  target; the final SIP code kept so the dialplan can tell busy (486/600) from
  congestion (503), timeout (408), refusal (403/603) and unknown number (404/484);
- incoming INVITEs: a request from a trunk's provider address (or its
  registered peer) runs the trunk's procedure (or the procedure named in
  ``X-Wpbx-Procedure`` when it exists: calls from a remote wpbx) with the
  called number from the Request-URI or the To header, as the trunk says; an
  INVITE from anywhere else that claims no user of ours gets 403 and counts
  toward the ban rules;
- the CDR of a call that went out through a trunk names the trunk and carries
  its cost under the trunk's price list (tariff window at the call's start).

``TrunkCallContext`` adds ``dial_trunk`` and ``trunk_group`` to the dialplan's
``CallContext``. It must not decide routing: the dialplan applications do.
"""

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from wpbxd.config.store import Store
from wpbxd.errors import NotFound
from wpbxd.events import CallStarted
from wpbxd.telephony.b2bua import DEFAULT_MAX_FORWARDS, B2bua, Call, CallContextImpl, Leg
from wpbxd.telephony.cdr import CdrRecord, CdrWriter
from wpbxd.telephony.dialplan.context import DialResult, DialStatus
from wpbxd.telephony.media import relay as rtp_relay
from wpbxd.telephony.media import sdp
from wpbxd.telephony.sip.message import Request, Response, make_response
from wpbxd.telephony.sip.stack import random_token
from wpbxd.telephony.sip.transaction import Target, Transaction
from wpbxd.telephony.sip.uri import SipSyntaxError, parse_address, parse_uri
from wpbxd.telephony.trunks import model, pricelist
from wpbxd.telephony.trunks.digest_client import ChallengeError, DigestClient, best_challenge
from wpbxd.telephony.trunks.resolver import ResolveError
from wpbxd.telephony.trunks.runtime import TrunkRuntime

log = logging.getLogger(__name__)

PROCEDURE_HEADER = "x-wpbx-procedure"
FAILOVER_CODES = (503, 408)       # RFC 3263 §4.3: the next target is tried
ANONYMOUS_REASON = "anonymous INVITE from an address that is no trunk"


@dataclass
class TrunkLeg:
    trunk: str
    number: str
    final: int = 0
    reason: str = ""
    auth_tried: bool = False
    rang: bool = False


def _result_for(code: int, reason: str, rang: bool) -> DialResult:
    """A trunk leg's final code as the dialplan sees it."""
    if code in (486, 600):
        return DialResult(DialStatus.BUSY, code, reason or "Busy Here")
    if code in (404, 484, 604):
        return DialResult(DialStatus.NOT_FOUND, code, reason or "Not Found")
    if code in (403, 603):
        return DialResult(DialStatus.REJECTED, code, reason or "Forbidden")
    if code in (401, 407):
        return DialResult(DialStatus.FAILED, 403, "the provider refused the trunk's credentials")
    if code == 480 or (code == 487 and rang):
        return DialResult(DialStatus.NO_ANSWER if rang else DialStatus.UNAVAILABLE, 480, reason or "No Answer")
    return DialResult(DialStatus.FAILED, code or 503, reason or "Service Unavailable")


class TrunkCallContext(CallContextImpl):
    """The dialplan's view of a call, with trunks."""

    async def dial_trunk(self, trunk: str, number: str, timeout: float | None, limit: int = 0,
                         procedure: str | None = None, quiet_early: bool = False) -> DialResult:
        call = self._call
        call.caller_number, call.caller_name = self.caller_number, self.caller_name
        result = await self._engine.dial_trunk(call, trunk, number, timeout, limit, procedure, quiet_early)
        call.last_dial = result
        self.last_dial = result
        return result

    def trunk_group(self, name: str) -> tuple[model.GroupMember, ...] | None:
        return self._engine.trunk_group(name)


class TrunkB2bua(B2bua):
    context_class = TrunkCallContext

    def __init__(self, *args, trunks: TrunkRuntime, store: Store, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.trunks = trunks
        self.store = store
        self.trunk_legs: dict[Leg, TrunkLeg] = {}
        self.quiet: set[str] = set()                   # calls hunting a group: no early media
        self.inbound: dict[str, str] = {}              # call id -> trunk the call came in on
        self.outbound: dict[str, tuple[str, str]] = {}  # call id -> (trunk, number) that answered
        self.seized: dict[str, list[str]] = {}         # call id -> trunks it holds
        self._prices: dict[str, pricelist.PriceList | None] = {}
        self.cdr = CdrWithTrunks(self.cdr, self._cost)

    def forget_prices(self) -> None:
        self._prices.clear()

    # -- the dialplan's questions -------------------------------------------------------
    def trunk_group(self, name: str) -> tuple[model.GroupMember, ...] | None:
        try:
            return model.get_group(self.store, name).members
        except NotFound:
            return None

    # -- outgoing -------------------------------------------------------------------------
    async def dial_trunk(self, call: Call, name: str, number: str, timeout: float | None, limit: int,
                         procedure: str | None, quiet_early: bool) -> DialResult:
        if call.ended or call.a_final >= 300:
            return DialResult(DialStatus.CANCELLED, 487, "Request Terminated")
        if call.b is not None:
            return DialResult(DialStatus.FAILED, 500, "Call already bridged")
        ok, why = self.trunks.available(name, limit)
        if not ok:
            self.trace(call, f"trunk {name} not tried: {why}")
            return DialResult(DialStatus.UNAVAILABLE, 503, f"trunk {name} {why}")
        state = self.trunks.states[name]
        try:
            targets = await self.trunks.targets(state)
        except ResolveError as err:
            self.trace(call, f"trunk {name}: {err}")
            return DialResult(DialStatus.FAILED, 503, str(err))
        if not targets:
            return DialResult(DialStatus.UNAVAILABLE, 503, f"trunk {name} has no address")
        try:
            self._open_media(call)
        except rtp_relay.NoPortsAvailable:
            return DialResult(DialStatus.FAILED, 503, "Service Unavailable (no media ports)")
        if quiet_early:
            self.quiet.add(call.id)
        self.trunks.seize(name)
        self.seized.setdefault(call.id, []).append(name)
        result = DialResult(DialStatus.FAILED, 503, "Service Unavailable")
        try:
            start = state.target_index
            for attempt in range(len(targets)):
                target = targets[(start + attempt) % len(targets)]
                result, info = await self._attempt(call, state.trunk, number, target, timeout, procedure)
                if result.status == DialStatus.ANSWERED:
                    self.outbound[call.id] = (name, number)
                    await asyncio.shield(call.ended_future)
                    return result
                if call.ended or info is None or info.rang or info.final not in FAILOVER_CODES:
                    return result
                if attempt + 1 < len(targets):
                    self.trace(call, f"trunk {name}: {info.final} from {target[1]}:{target[2]}, trying the next address")
                    state.target_index = (start + attempt + 1) % len(targets)
            return result
        finally:
            self.quiet.discard(call.id)
            if self.outbound.get(call.id, ("",))[0] != name:
                self._release(call, name)

    def _release(self, call: Call, name: str) -> None:
        held = self.seized.get(call.id, [])
        if name in held:
            held.remove(name)
            self.trunks.release(name)

    async def _attempt(self, call: Call, trunk: model.Trunk, number: str, target: Target, timeout: float | None,
                       procedure: str | None) -> tuple[DialResult, TrunkLeg | None]:
        loop = asyncio.get_running_loop()
        call.dial_future = loop.create_future()
        call.branches = []
        call.tried = []
        call.pending_forks = 0
        leg = self._trunk_leg(call, trunk, number, target, procedure)
        if leg is None:
            call.dial_future = None
            return DialResult(DialStatus.FAILED, 500, "cannot build the offer"), None
        info = self.trunk_legs[leg]
        call.ring_timer = loop.call_later(timeout or self.ring_timeout(), self._ring_timeout, call)
        try:
            result = await call.dial_future
        finally:
            if call.ring_timer is not None:
                call.ring_timer.cancel()
                call.ring_timer = None
            if call.b is not leg:
                self.trunk_legs.pop(leg, None)
        if result.status in (DialStatus.ANSWERED, DialStatus.CANCELLED, DialStatus.NO_ANSWER):
            return result, info
        return _result_for(info.final, info.reason, info.rang), info

    def _trunk_leg(self, call: Call, trunk: model.Trunk, number: str, target: Target,
                   procedure: str | None) -> Leg | None:
        assert call.offer is not None
        leg = Leg(call, "b")
        leg.number = number
        leg.call_id = random_token(10) + "@wpbx"
        leg.target = target
        state = self.trunks.states[trunk.name]
        if trunk.dynamic and state.peer is not None:
            try:
                uri = parse_uri(state.peer.contact)
                leg.remote_target = str(dataclasses.replace(uri, user=number))
                domain = uri.host
            except SipSyntaxError:
                return None
        else:
            domain = trunk.sip_domain or target[1]
            leg.remote_target = f"sip:{number}@{domain}"
        host_only = model.split_hostport(domain)[0] if domain else target[1]
        from_user = trunk.from_user or call.caller_number or trunk.login
        display = call.caller_name.replace('"', "")
        leg.local_hdr = f'"{display}" <sip:{from_user}@{host_only}>;tag={leg.local_tag}'
        leg.remote_hdr = f"<sip:{number}@{host_only}>"
        leg.contact = self.stack.contact(target, from_user)
        try:
            body = self._sdp_for(call, self._callee_offer(call, target[1]), "b", target[1])
        except sdp.SdpError as err:
            log.warning("call %s: cannot rewrite the offer: %s", call.id, err)
            return None
        extra = [(PROCEDURE_HEADER, procedure)] if procedure else None
        req = self._request(leg, "INVITE", body, extra=extra)
        req.headers["max-forwards"] = [str(call.max_forwards)]
        self.trunk_legs[leg] = TrunkLeg(trunk.name, number)
        call.branches.append(leg)
        self.dialogs[(leg.call_id, leg.local_tag)] = leg
        self._send_invite(leg, req)
        if not call.callee_number:
            call.callee_number = number
        self.trace(call, f"trunk {trunk.name}: INVITE {leg.remote_target} via {target[1]}:{target[2]}")
        return leg

    def _send_invite(self, leg: Leg, req: Request) -> None:
        leg.invite = req
        txn = self.stack.send_request(req, leg.target)
        leg.invite_txn = txn
        txn.on_response = lambda t, resp, leg=leg: self._on_b_response(leg, resp)
        txn.on_timeout = lambda t, leg=leg: self._on_b_failure(leg, 408, "Request Timeout")

    def _on_b_response(self, leg: Leg, resp: Response) -> None:
        info = self.trunk_legs.get(leg)
        if info is None:
            super()._on_b_response(leg, resp)
            return
        status = resp.status
        if status in (401, 407) and not info.auth_tried and not leg.cancelled and not leg.call.ended:
            if self._answer_challenge(leg, info, resp):
                return
        if 100 < status < 200:
            info.rang = True
            if leg.call.id in self.quiet:
                resp.body = b""          # one continuous ringback while a group hunts
        elif status >= 300:
            info.final, info.reason = status, resp.reason
        super()._on_b_response(leg, resp)

    def _answer_challenge(self, leg: Leg, info: TrunkLeg, resp: Response) -> bool:
        """Send the INVITE again with credentials (RFC 3261 §22.2); False when we cannot."""
        state = self.trunks.states.get(info.trunk)
        if state is None or leg.invite is None:
            return False
        trunk = state.trunk
        proxy = resp.status == 407
        try:
            challenge = best_challenge(resp.get_all("proxy-authenticate" if proxy else "www-authenticate"), proxy)
        except ChallengeError as err:
            self.trace(leg.call, f"trunk {trunk.name}: cannot answer the challenge ({err})")
            return False
        info.auth_tried = True
        old = leg.invite
        extra = [(PROCEDURE_HEADER, v) for v in old.get_all(PROCEDURE_HEADER)]
        req = self._request(leg, "INVITE", old.body, extra=extra)
        req.headers["max-forwards"] = list(old.headers.get("max-forwards") or [str(DEFAULT_MAX_FORWARDS)])
        req.headers[challenge.header] = [DigestClient(trunk.login, trunk.password).authorization(
            challenge, "INVITE", req.uri)]
        self.trace(leg.call, f"trunk {trunk.name}: {resp.status} challenge answered as {trunk.login}")
        self._send_invite(leg, req)
        return True

    def _on_b_failure(self, leg: Leg, status: int, reason: str) -> None:
        info = self.trunk_legs.get(leg)
        if info is not None and not info.final:
            info.final, info.reason = status, reason
        super()._on_b_failure(leg, status, reason)

    # -- incoming -------------------------------------------------------------------------
    def _new_invite(self, txn: Transaction, req: Request) -> None:
        trunk = self.trunks.match_source(txn.source[1], txn.source[2])
        if trunk is not None:
            self._new_trunk_invite(txn, req, trunk)
            return
        if not req.headers.get("proxy-authorization") and not self._claims_a_user(req):
            self._refuse_anonymous(txn, req)
            return
        super()._new_invite(txn, req)

    def _claims_a_user(self, req: Request) -> bool:
        try:
            user = req.address("from").uri.user or ""
        except (SipSyntaxError, ValueError):
            return False
        return bool(user) and (self.directory.by_auth_name(user) is not None
                               or self.directory.by_extension(user) is not None)

    def _refuse_anonymous(self, txn: Transaction, req: Request) -> None:
        host = txn.source[1]
        auth = self.auth
        auth.failures += 1
        log.info("SIP INVITE from %s refused: %s", host, ANONYMOUS_REASON)
        ban = auth.bans.record_failure(host, time.time(), ANONYMOUS_REASON)
        if ban is not None:
            log.warning("SIP: banning %s until %.0f: %s", host, ban.until, ban.reason)
            auth.on_ban(ban)
        self.stack.respond(txn, make_response(req, 403, "Forbidden", random_token(4)))

    def _new_trunk_invite(self, txn: Transaction, req: Request, trunk: model.Trunk) -> None:
        accepted = self._accept_invite(txn, req)
        if accepted is None:
            return
        hops, offer, delayed = accepted
        try:
            ruri = parse_uri(req.uri)
            frm = req.address("from")
            to = req.address("to")
            contact = parse_address(req.get("contact") or "")
        except SipSyntaxError as err:
            self.stack.reply(txn, 400, f"Bad Request ({err})")
            return
        called = (to.uri.user if trunk.called_from == "to" else ruri.user) or ""
        plan = self.dialplan()
        procedure = trunk.procedure
        asked = (req.get(PROCEDURE_HEADER) or "").strip()
        if asked and asked in plan.procedures:
            procedure = asked
        call = self._caller_call(txn, req, str(contact.uri), called or "wpbx", hops, offer, delayed)
        rules = plan.rules
        call.caller_number = model.normalise_number(frm.uri.user or "", trunk.country_code, rules.national_prefix,
                                                    rules.international_prefix)
        call.caller_name = frm.display or ""
        call.called = called
        self.calls[call.id] = call
        self.inbound[call.id] = trunk.name
        self.trunks.seize(trunk.name)
        self.seized.setdefault(call.id, []).append(trunk.name)
        self.dialogs[(call.a.call_id, call.a.local_tag)] = call.a
        self.bus.publish(CallStarted(call.id, call.caller_number, called))
        self.trace(call, f"incoming on trunk {trunk.name} from {txn.source[1]}:{txn.source[2]}")
        call.task = asyncio.get_running_loop().create_task(self._run(call, procedure))

    # -- end of call: trunk seizures and the CDR's trunk and cost ----------------------------
    def _end(self, call: Call) -> None:
        if call.ended:
            return
        for name in self.seized.pop(call.id, []):
            self.trunks.release(name)
        for leg in [leg for leg in self.trunk_legs if leg.call is call]:
            self.trunk_legs.pop(leg, None)
        self.quiet.discard(call.id)
        inbound = self.inbound.pop(call.id, "")
        outbound = self.outbound.pop(call.id, None)
        if inbound or outbound:
            self.cdr.note(call.a.call_id, outbound[0] if outbound else inbound, outbound[1] if outbound else None)
        super()._end(call)

    def _cost(self, trunk_name: str, number: str, record: CdrRecord) -> float | None:
        state = self.trunks.states.get(trunk_name)
        list_name = state.trunk.price_list if state is not None else None
        if not list_name:
            return None
        if list_name not in self._prices:
            try:
                self._prices[list_name] = pricelist.load(self.store, list_name)
            except NotFound:
                self._prices[list_name] = None
        plist = self._prices[list_name]
        if plist is None:
            return None
        start = datetime.fromtimestamp(record.start_time, self.dialplan().tz)
        cost, _ = plist.cost_at(number, start, record.billsec)
        return cost


class CdrWithTrunks:
    """The CDR writer as the trunk-aware engine uses it: records of trunk calls get trunk and cost.

    Everything else is the wrapped writer's (``take``, ``flush``, ``written`` ...).
    """

    def __init__(self, writer: CdrWriter, cost: Callable[[str, str, CdrRecord], float | None]) -> None:
        self._writer = writer
        self._cost = cost
        self._notes: dict[str, tuple[str, str | None]] = {}

    def note(self, caller_call_id: str, trunk: str, number: str | None) -> None:
        """The next record of this call went through ``trunk`` (out to ``number``, when outgoing)."""
        self._notes[caller_call_id] = (trunk, number)

    def add(self, record: CdrRecord) -> None:
        note = self._notes.pop(record.caller_call_id, None)
        if note is not None and hasattr(record, "trunk"):
            trunk, number = note
            changes: dict = {"trunk": trunk}
            if number is not None:
                changes["cost"] = self._cost(trunk, number, record)
            record = dataclasses.replace(record, **changes)
        self._writer.add(record)

    def __getattr__(self, name: str):
        return getattr(self._writer, name)
