"""The call engine: a back-to-back user agent whose calls the dialplan drives.

Every call is two or more legs joined by a ``Call``: leg ``a`` is the caller's
dialog (we are its UAS), the ``b`` legs are the dialogs we open to the callee's
registered contacts (we are their UAC; several at once while they ring, one once
somebody answers). Responsible for: authenticating new INVITEs (407, then 403),
running the caller's dialplan procedure with a ``CallContext``, forking to every
contact of a dialled user (first 2xx wins, the rest get CANCEL), relaying
provisional and final responses, CANCEL (487 to the caller), BYE from either side,
re-INVITE/UPDATE passthrough (hold/resume), anchoring media on the RTP relay
(SDP rewritten to our address, symmetric latching), and one CDR per call.
Media the PBX terminates itself (IVR, voicemail, echo: ``CallContext.media()``)
is a ``MediaChannel`` placed behind the relay stream's side b, so the caller's
media address never changes when the call is later bridged to a phone; the
offer to a callee carries the codecs the PBX can transcode to (ordered by the
codec policy for the callee's network) and a callee answering with a codec the
caller lacks gets a transcoded stream (``callmedia.bridge``). DTMF in SIP INFO
reaches the PBX's own channel. A phone that puts the call on hold has the
other party hear the PBX's music on hold (played into the holder's side of the
relay) until it resumes.

It must not decide routing (the dialplan does) nor parse bytes (the SIP core does).
"""

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.events import CallEnded, CallStarted, CallTrace
from wpbxd.telephony.authentication import Authenticator, SipUser, UserDirectory
from wpbxd.telephony.cdr import CdrRecord, CdrWriter
from wpbxd.telephony.dialplan import engine
from wpbxd.telephony.dialplan.context import (
    CallEnd,
    DialResult,
    DialStatus,
    DialTarget,
    ExtensionState,
    Outcome,
)
from wpbxd.telephony.media import callmedia, sdp
from wpbxd.telephony.media import relay as rtp_relay
from wpbxd.telephony.media.announcements import MediaUnavailable
from wpbxd.telephony.media.channel import ChannelClosed, MediaChannel
from wpbxd.telephony.media.negotiation import (
    Negotiated,
    NegotiationError,
    first_voice,
    narrow_offer,
    offer_for_callee,
    order_offer,
    pbx_offer,
)
from wpbxd.telephony.media.services import MediaServices
from wpbxd.telephony.media.transcode import only_from
from wpbxd.telephony.originate import Originator
from wpbxd.telephony.registrar import Binding, Registrar
from wpbxd.telephony.sip.message import Request, Response, make_response
from wpbxd.telephony.sip.stack import SipStack, random_token
from wpbxd.telephony.sip.transaction import T1, T2, Target, Transaction
from wpbxd.telephony.sip.uri import SipSyntaxError, parse_address, parse_uri

log = logging.getLogger(__name__)

ACK_WAIT = 64 * T1          # seconds we retransmit a 2xx before giving up (§13.3.1.4)
DEFAULT_MAX_FORWARDS = 70   # RFC 3261 §8.1.1.6
STATIC_CODECS = {"0": "PCMU", "8": "PCMA", "9": "G722", "18": "G729", "3": "GSM", "4": "G723"}


class Leg:
    """One dialog of a call (early or confirmed)."""

    __slots__ = ("call", "side", "call_id", "local_tag", "remote_tag", "local_hdr", "remote_hdr",
                 "remote_target", "route_set", "local_cseq", "target", "invite", "invite_txn",
                 "contact", "final", "provisional", "cancel_pending", "cancelled", "ack_bytes",
                 "retrans", "user", "binding", "pending", "number", "stop_timer")

    def __init__(self, call: "Call", side: str) -> None:
        self.call = call
        self.side = side
        self.call_id = ""
        self.local_tag = random_token(4)
        self.remote_tag: str | None = None
        self.local_hdr = ""
        self.remote_hdr = ""
        self.remote_target = ""
        self.route_set: list[str] = []
        self.local_cseq = int.from_bytes(os.urandom(2), "big") + 1
        self.target: Target = ("udp", "", 0)
        self.invite: Request | None = None
        self.invite_txn: Transaction | None = None
        self.contact = ""
        self.final = 0
        self.provisional = False
        self.cancel_pending = False
        self.cancelled = False
        self.ack_bytes = b""
        self.retrans: asyncio.TimerHandle | None = None
        self.user: SipUser | None = None
        self.binding: Binding | None = None
        self.pending: Transaction | None = None      # an in-dialog request we relay
        self.number = ""                             # the dialled target this leg rings
        self.stop_timer: asyncio.TimerHandle | None = None


class Call:
    def __init__(self, a: Leg | None = None) -> None:
        self.id = random_token(6)
        self.a: Leg = a or Leg(self, "a")
        self.b: Leg | None = None
        self.branches: list[Leg] = []
        self.caller: SipUser | None = None
        self.caller_number = ""
        self.caller_name = ""
        self.called = ""
        self.callee_number = ""
        self.callee_name = ""
        self.start = time.time()
        self.answer_time: float | None = None
        self.end_time: float | None = None
        self.answered = False
        self.ended = False
        self.max_forwards = DEFAULT_MAX_FORWARDS
        self.a_final = 0
        self.offer: sdp.SessionDescription | None = None
        self.streams: list[rtp_relay.RelayStream | None] = []
        self.codec = ""
        self.local: callmedia.LocalMedia | None = None          # the PBX's own media (IVR, voicemail...)
        self.bridge_offer: sdp.SessionDescription | None = None  # what the caller sends, offered onwards
        self.side_codec: dict[str, tuple[str, int, int | None]] = {}  # side -> what it sends (codec, pt, event pt)
        self.moh: MediaChannel | None = None                       # music for the party the other one holds
        self.translators: tuple = (None, None)                    # the stream's (a_to_b, b_to_a) transcoders
        self.hangup_cause = ""
        self.hangup_side = ""
        self.last_dial: DialResult | None = None
        self.dial_future: asyncio.Future | None = None
        self.ended_future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task | None = None
        self.ring_timer: asyncio.TimerHandle | None = None
        self.fork_timers: list[asyncio.TimerHandle] = []
        self.pending_forks = 0
        self.tried: list[str] = []           # statuses of targets that could not be rung
        self.involved: set[str] = set()      # extensions this call counts as busy
        self.trace_lines: list[str] = []
        self.offer_in_200 = False            # delayed offer: our 200 offers, the caller's ACK answers
        self.originated = False              # the PBX placed this call (``originate``): leg a is our UAC
        self.origin_legs: list[Leg] = []     # the originating phone's contacts, rung at once
        self.origin_task: tuple = ("", None)  # what runs once it answers: (procedure, application)

    @property
    def state(self) -> str:
        if self.ended:
            return "ended"
        if self.answered:
            return "answered"
        if self.branches or self.origin_legs:
            return "ringing"
        return "routing"


class CallContextImpl:
    """The ``CallContext`` the dialplan sees (``wpbxd.telephony.dialplan.context``)."""

    def __init__(self, engine_: "B2bua", call: Call, procedure: str) -> None:
        self._engine = engine_
        self._call = call
        self.call_id = call.id
        self.caller_number = call.caller_number
        self.caller_name = call.caller_name
        self.called = call.called
        self.procedure = procedure
        self.last_dial: DialResult | None = None

    @property
    def answered(self) -> bool:
        return self._call.answered

    async def dial(self, targets: list[str], timeout: float | None) -> DialResult:
        return await self.ring([DialTarget(t) for t in targets], timeout)

    async def ring(self, targets: list[DialTarget], timeout: float | None) -> DialResult:
        call = self._call
        call.caller_number, call.caller_name = self.caller_number, self.caller_name
        result = await self._engine.ring(call, targets, timeout)
        call.last_dial = result
        self.last_dial = result
        return result

    def extension_state(self, extension: str) -> ExtensionState:
        return self._engine.extension_state(extension)

    async def wait(self, seconds: float) -> bool:
        call = self._call
        if call.ended:
            return False
        try:
            await asyncio.wait_for(asyncio.shield(call.ended_future), seconds)
        except TimeoutError:
            return not call.ended
        return False

    async def answer(self) -> None:
        self._engine.answer(self._call)

    @property
    def services(self) -> MediaServices | None:
        return self._engine.media_services

    async def media(self, codecs: tuple[str, ...] | None = None,
                    first: tuple[str, ...] | None = None) -> MediaChannel:
        return self._engine.local_media(self._call, codecs, first)

    async def hangup(self, sip_code: int, reason: str = "") -> None:
        self._engine.hangup(self._call, sip_code, reason)

    def publish(self, event: object) -> None:
        self._engine.bus.publish(event)

    def trace(self, text: str) -> None:
        self._engine.trace(self._call, text)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


class B2bua(Originator):
    context_class: type[CallContextImpl] = CallContextImpl  # what the dialplan runs each call against

    def __init__(self, stack: SipStack, registrar: Registrar, auth: Authenticator,
                 directory: UserDirectory, relay: rtp_relay.RtpRelay, cdr: CdrWriter, bus: EventBus,
                 dialplan: Callable[[], engine.Dialplan], ring_timeout: Callable[[], float],
                 media_services: MediaServices | None = None) -> None:
        self.stack = stack
        self.registrar = registrar
        self.auth = auth
        self.directory = directory
        self.relay = relay
        self.cdr = cdr
        self.bus = bus
        self.dialplan = dialplan
        self.ring_timeout = ring_timeout
        self.media_services = media_services
        self.calls: dict[str, Call] = {}
        self.dialogs: dict[tuple[str, str], Leg] = {}
        self.busy: dict[str, int] = {}          # extension -> calls in progress involving it
        self.completed = 0
        for method in ("INVITE", "BYE", "UPDATE", "INFO", "MESSAGE", "NOTIFY", "REFER", "PRACK"):
            stack.handlers[method] = self.on_request
        stack.handlers["CANCEL"] = self.on_cancel
        stack.on_ack_handler = self.on_ack
        stack.on_stray_handler = self.on_stray_response

    # -- helpers --------------------------------------------------------------------
    def trace(self, call: Call, text: str) -> None:
        call.trace_lines.append(text)
        self.bus.publish(CallTrace(call.id, text))

    def _respond_a(self, call: Call, status: int, reason: str, extra: list[tuple[str, str]] | None = None,
                   body: bytes = b"") -> None:
        txn = call.a.invite_txn
        if txn is None or call.a_final:
            return
        if status >= 200:
            call.a_final = status
        headers = list(extra or [])
        if status < 300 and status > 100:
            headers.append(("contact", call.a.contact))
        if body:
            headers.append(("content-type", "application/sdp"))
        resp = make_response(txn.request, status, reason, call.a.local_tag, headers, body)
        self.stack.respond(txn, resp)
        if 200 <= status < 300:
            self._retransmit_2xx(call.a, resp)

    def _retransmit_2xx(self, leg: Leg, resp: Response) -> None:
        """Keep sending a 2xx to an INVITE until its ACK arrives (§13.3.1.4)."""
        if leg.target[0] != "udp":
            return
        data = resp.to_bytes()
        loop = asyncio.get_running_loop()
        started = loop.time()

        def again(interval: float) -> None:
            if leg.call.ended:
                return
            if loop.time() - started >= ACK_WAIT:
                leg.retrans = None
                self.trace(leg.call, f"no ACK from the {'caller' if leg.side == 'a' else 'callee'}: hanging up")
                self._hangup_answered(leg.call, "pbx", "no ACK")
                return
            self.stack.send_raw(data, leg.target)
            leg.retrans = loop.call_later(min(interval * 2, T2), again, min(interval * 2, T2))

        if leg.retrans is not None:
            leg.retrans.cancel()
        leg.retrans = loop.call_later(T1, again, T1)

    def _request(self, leg: Leg, method: str, body: bytes = b"", cseq: int | None = None,
                 extra: list[tuple[str, str]] | None = None) -> Request:
        if cseq is None:
            leg.local_cseq += 1
            cseq = leg.local_cseq
        headers: dict[str, list[str]] = {
            "via": [self.stack.via(leg.target)], "max-forwards": ["70"],
            "from": [leg.local_hdr], "to": [leg.remote_hdr], "call-id": [leg.call_id],
            "cseq": [f"{cseq} {method}"],
        }
        if method != "ACK":
            headers["contact"] = [leg.contact]
        if leg.route_set:
            headers["route"] = list(leg.route_set)
        for name, value in extra or ():
            headers.setdefault(name, []).append(value)
        if body:
            headers["content-type"] = ["application/sdp"]
        return Request(method, leg.remote_target, headers, body)

    def _peer(self, leg: Leg) -> Leg | None:
        call = leg.call
        return call.b if leg.side == "a" else call.a

    # -- new calls ----------------------------------------------------------------------
    def on_request(self, txn: Transaction, req: Request) -> None:
        if req.to_tag:
            self._in_dialog(txn, req)
            return
        if req.method != "INVITE":
            self.stack.reply(txn, 481, "Call/Transaction Does Not Exist")
            return
        self._new_invite(txn, req)

    def _new_invite(self, txn: Transaction, req: Request) -> None:
        stack = self.stack
        user, problem = self.auth.check(req, txn.source[1])
        if problem is not None:
            stack.respond(txn, problem)
            return
        assert user is not None
        accepted = self._accept_invite(txn, req)
        if accepted is None:
            return
        hops, offer, delayed = accepted
        try:
            ruri = parse_uri(req.uri)
            frm = req.address("from")
            contact = parse_address(req.get("contact") or "")
        except SipSyntaxError as err:
            stack.reply(txn, 400, f"Bad Request ({err})")
            return
        called = ruri.user if ruri.is_sip else (ruri.opaque or "")
        if called is None:
            called = req.address("to").uri.user or ""
        call = self._caller_call(txn, req, str(contact.uri), user.extension, hops, offer, delayed)
        call.a.user = user
        call.caller = user
        call.caller_number = user.extension
        call.caller_name = frm.display or user.name
        call.called = called
        self.calls[call.id] = call
        self._involve(call, user.extension)
        self.dialogs[(call.a.call_id, call.a.local_tag)] = call.a
        self.bus.publish(CallStarted(call.id, call.caller_number, called))
        call.task = asyncio.get_running_loop().create_task(self._run(call, user.dialplan or "users"))

    def _accept_invite(self, txn: Transaction, req: Request) -> tuple[int, sdp.SessionDescription, bool] | None:
        """For a new INVITE: its hop count left, then 100 Trying, then its offer
        (``_read_offer``); ``None`` once refused (483, 415, 488)."""
        hops = int(req.get("max-forwards") or DEFAULT_MAX_FORWARDS)   # digits checked by triage
        if hops <= 0:
            self.stack.reply(txn, 483, "Too Many Hops")
            return None
        self.stack.respond(txn, make_response(req, 100, "Trying"))
        read = self._read_offer(txn, req)
        if read is None:
            return None
        return hops, read[0], read[1]

    def _caller_call(self, txn: Transaction, req: Request, remote_target: str, contact_user: str, hops: int,
                     offer: sdp.SessionDescription, delayed: bool) -> Call:
        """A new call whose leg ``a`` is the dialog of ``req`` (we are its UAS)."""
        call = Call()
        a = call.a
        a.call_id = req.call_id
        a.remote_tag = req.from_tag
        a.remote_hdr = req.get("from") or ""
        a.local_hdr = (req.get("to") or "") + ";tag=" + a.local_tag
        a.remote_target = remote_target
        a.route_set = list(req.get_all("record-route"))
        a.target = txn.source
        a.invite = req
        a.invite_txn = txn
        a.contact = self.stack.contact(txn.source, contact_user)
        txn.data = call
        call.offer = offer
        call.offer_in_200 = delayed
        call.max_forwards = hops - 1
        return call

    def _read_offer(self, txn: Transaction, req: Request) -> tuple[sdp.SessionDescription, bool] | None:
        """The caller's SDP offer, and whether it was delayed; ``None`` once refused.

        An INVITE without a body is a delayed offer (RFC 3261 §13.2.1): the PBX then
        makes the offer itself in its 200 OK and the caller answers in the ACK. Until
        then the call carries the PBX's own offer, with no address, so routing,
        ringing, transcoding plans and the PBX's own media work unchanged.
        """
        if not req.body:
            policy = self.media_services.codec_policy if self.media_services is not None else None
            return pbx_offer(policy.preference(txn.source[1]) if policy is not None else ()), True
        ctype = (req.get("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/sdp":
            self.stack.reply(txn, 415, "Unsupported Media Type", extra=[("accept", "application/sdp")])
            return None
        try:
            return sdp.SessionDescription.parse(req.body), False
        except sdp.SdpError as err:
            self.stack.reply(txn, 488, f"Not Acceptable Here (bad SDP: {err})")
            return None

    async def _run(self, call: Call, procedure: str) -> None:
        ctx = self.context_class(self, call, procedure)
        self.trace(call, f"call from {call.caller_number} ({call.caller_name}) to {call.called}, procedure {procedure}")
        try:
            outcome = await engine.run(self.dialplan(), ctx)
        except asyncio.CancelledError:
            outcome = Outcome(CallEnd.HANGUP, 503, "Service Unavailable")
        except Exception:
            log.exception("call %s: the dialplan failed", call.id)
            outcome = Outcome(CallEnd.HANGUP, 500, "Server Internal Error")
        if call.ended:
            return
        if not call.answered:
            code = outcome.sip_code or 480
            reason = outcome.reason or "Temporarily Unavailable"
            if not call.a_final:
                self._respond_a(call, code, reason)
            if not call.hangup_cause:
                call.hangup_cause = f"{code} {reason}"
                call.hangup_side = "pbx"
            self._end(call)
        else:
            self._hangup_answered(call, "pbx", "dialplan ended")

    # -- dial -------------------------------------------------------------------------
    def extension_state(self, extension: str) -> ExtensionState:
        registered = bool(self.registrar.contacts(extension, time.time()))
        return ExtensionState(registered, self.busy.get(extension, 0))

    def _involve(self, call: Call, extension: str) -> None:
        """Count ``call`` once as active for ``extension`` until it ends."""
        if extension and extension not in call.involved:
            call.involved.add(extension)
            self.busy[extension] = self.busy.get(extension, 0) + 1

    async def ring(self, call: Call, targets: list[DialTarget], timeout: float | None) -> DialResult:
        if call.ended or call.a_final >= 300:
            return DialResult(DialStatus.CANCELLED, 487, "Request Terminated")
        if call.b is not None:
            return DialResult(DialStatus.FAILED, 500, "Call already bridged")
        try:
            self._open_media(call)
        except rtp_relay.NoPortsAvailable:
            self.trace(call, "no RTP ports left")
            return DialResult(DialStatus.FAILED, 503, "Service Unavailable (no media ports)")
        self._detach_local(call)
        loop = asyncio.get_running_loop()
        call.dial_future = loop.create_future()
        call.branches = []
        call.tried = []
        call.pending_forks = 0
        for target in targets:
            if target.delay > 0:
                call.pending_forks += 1
                call.fork_timers.append(loop.call_later(target.delay, self._delayed_fork, call, target))
            else:
                self._fork_target(call, target)
        if not call.branches and not call.pending_forks:
            call.dial_future = None
            return self._unreachable(call)
        ring = timeout or self.ring_timeout()
        call.ring_timer = loop.call_later(ring, self._ring_timeout, call)
        try:
            result = await call.dial_future
        except asyncio.CancelledError:
            self._cancel_branches(call, None)      # the dialplan moved on (e.g. a fax was heard)
            raise
        finally:
            if call.ring_timer is not None:
                call.ring_timer.cancel()
                call.ring_timer = None
            for handle in call.fork_timers:
                handle.cancel()
            call.fork_timers = []
            call.pending_forks = 0
        if result.status == DialStatus.ANSWERED and not call.ended:
            await asyncio.shield(call.ended_future)
        return result

    @staticmethod
    def _unreachable(call: Call) -> DialResult:
        if "UNAVAILABLE" in call.tried:
            return DialResult(DialStatus.UNAVAILABLE, 480, "Temporarily Unavailable")
        return DialResult(DialStatus.NOT_FOUND, 404, "Not Found")

    def _fork_target(self, call: Call, target: DialTarget) -> int:
        """Ring every contact of one target; returns how many legs were started."""
        user = self.directory.by_extension(target.number)
        if user is None:
            call.tried.append("NOT_FOUND")
            self.trace(call, f"{target.number}: no such extension")
            return 0
        contacts = self.registrar.contacts(user.extension, time.time())
        if not contacts:
            call.tried.append("UNAVAILABLE")
            self.trace(call, f"{target.number}: not registered")
            return 0
        if not call.callee_number:
            call.callee_number, call.callee_name = user.extension, user.name
        started = 0
        for binding in contacts:
            leg = self._fork(call, user, binding, target.number)
            if leg is None:
                continue
            started += 1
            if target.ring_time:
                leg.stop_timer = asyncio.get_running_loop().call_later(
                    target.ring_time, self._stop_leg, leg)
        return started

    def _delayed_fork(self, call: Call, target: DialTarget) -> None:
        call.pending_forks -= 1
        if call.ended or call.b is not None or call.dial_future is None or call.dial_future.done():
            return
        self._fork_target(call, target)
        self._check_done(call)

    def _stop_leg(self, leg: Leg) -> None:
        leg.stop_timer = None
        call = leg.call
        if leg.final or leg.cancelled or call.b is leg:
            return
        self.trace(call, f"{leg.number}: ring time over")
        leg.cancelled = True
        if leg.provisional:
            self._send_cancel(leg)
        else:
            leg.cancel_pending = True

    def _open_media(self, call: Call) -> None:
        if call.streams or call.offer is None:
            return
        streams: list[rtp_relay.RelayStream | None] = []
        try:
            for m in call.offer.media:
                if m.port == 0:
                    streams.append(None)
                    continue
                stream = self.relay.open_stream()
                streams.append(stream)
                host = call.offer.media_connection(m)
                if host:
                    try:
                        stream.set_remote("a", host, m.port)
                    except ValueError as err:
                        log.info("call %s: caller media address not usable: %s", call.id, err)
        except rtp_relay.NoPortsAvailable:
            for s in streams:
                if s is not None:
                    s.close()
            raise
        call.streams = streams

    def _sdp_for(self, call: Call, desc: sdp.SessionDescription, side: str, peer_host: str) -> bytes:
        ports = [0 if s is None else (s.a.local_port if side == "a" else s.b.local_port) for s in call.streams]
        if len(ports) != len(desc.media):
            raise sdp.SdpError("the answer does not have one m= line per offered stream")
        return sdp.rewrite_for_relay(desc, self.stack.local_host(peer_host), ports).to_bytes()

    def _learn_media(self, call: Call, desc: sdp.SessionDescription, side: str) -> None:
        for m, stream in zip(desc.media, call.streams, strict=False):
            if stream is None:
                continue
            host = desc.media_connection(m)
            if host is None:
                continue
            try:
                stream.set_remote(side, host, m.port)
            except ValueError as err:
                log.info("call %s: media address of side %s not usable: %s", call.id, side, err)

    def _fork(self, call: Call, user: SipUser, binding: Binding, number: str) -> Leg | None:
        assert call.offer is not None
        leg = Leg(call, "b")
        leg.number = number
        self._involve(call, user.extension)
        leg.user = user
        leg.binding = binding
        leg.call_id = random_token(10) + "@wpbx"
        leg.target = self.stack.route_to(binding.source, binding.contact)
        leg.remote_target = binding.contact
        host = self.stack.local_host(binding.source[1])
        display = call.caller_name.replace('"', "")
        leg.local_hdr = f'"{display}" <sip:{call.caller_number}@{host}>;tag={leg.local_tag}'
        leg.remote_hdr = f"<sip:{user.extension}@{host}>"
        leg.contact = self.stack.contact(binding.source, call.caller_number)
        try:
            body = self._sdp_for(call, self._callee_offer(call, binding.source[1]), "b", binding.source[1])
        except sdp.SdpError as err:
            log.warning("call %s: cannot rewrite the offer: %s", call.id, err)
            return None
        req = self._request(leg, "INVITE", body)
        req.headers["max-forwards"] = [str(call.max_forwards)]    # a B2BUA still counts hops: loops end
        leg.invite = req
        self.dialogs[(leg.call_id, leg.local_tag)] = leg
        txn = self.stack.send_request(req, leg.target)
        leg.invite_txn = txn
        txn.on_response = lambda t, resp, leg=leg: self._on_b_response(leg, resp)
        txn.on_timeout = lambda t, leg=leg: self._on_b_failure(leg, 408, "Request Timeout")
        call.branches.append(leg)
        self.trace(call, f"ringing {user.extension} at {binding.contact}")
        return leg

    def _ring_timeout(self, call: Call) -> None:
        call.ring_timer = None
        if call.answered or call.ended or call.dial_future is None or call.dial_future.done():
            return
        self.trace(call, "no answer before the timeout")
        self._cancel_branches(call, None)
        call.dial_future.set_result(DialResult(DialStatus.NO_ANSWER, 480, "No Answer"))

    def _cancel_branches(self, call: Call, keep: Leg | None) -> None:
        self._cancel_legs(call.branches, keep)

    def _cancel_legs(self, legs: list[Leg], keep: Leg | None) -> None:
        """CANCEL every ringing leg but ``keep``; a leg with no provisional response yet
        is cancelled when its first one arrives (§9.1)."""
        for leg in legs:
            if leg is keep or leg.final or leg.cancelled:
                continue
            leg.cancelled = True
            if leg.provisional:
                self._send_cancel(leg)
            else:
                leg.cancel_pending = True

    def _on_provisional(self, leg: Leg) -> bool:
        """Note a 1xx on ``leg``; False when it was only there to let a pending CANCEL go."""
        leg.provisional = True
        if leg.cancel_pending:
            leg.cancel_pending = False
            self._send_cancel(leg)
            return False
        return True

    def _send_cancel(self, leg: Leg) -> None:
        inv = leg.invite
        assert inv is not None
        headers: dict[str, list[str]] = {
            "via": [inv.headers["via"][0]], "max-forwards": ["70"], "from": list(inv.headers["from"]),
            "to": list(inv.headers["to"]), "call-id": list(inv.headers["call-id"]),
            "cseq": [f"{inv.cseq[0]} CANCEL"],
        }
        if "route" in inv.headers:
            headers["route"] = list(inv.headers["route"])
        self.stack.send_request(Request("CANCEL", inv.uri, headers), leg.target)

    def _ack(self, leg: Leg, cseq: int) -> None:
        ack = self._request(leg, "ACK", cseq=cseq)
        leg.ack_bytes = ack.to_bytes()
        self.stack.send_raw(leg.ack_bytes, leg.target)

    def _establish_uac(self, leg: Leg, resp: Response) -> None:
        leg.remote_hdr = resp.get("to") or leg.remote_hdr
        leg.remote_tag = resp.to_tag
        contact = resp.get("contact")
        if contact:
            try:
                leg.remote_target = str(parse_address(contact).uri)
            except SipSyntaxError:
                pass
        leg.route_set = list(reversed(resp.get_all("record-route")))

    def _on_b_response(self, leg: Leg, resp: Response) -> None:
        call = leg.call
        status = resp.status
        if status < 200:
            if status == 100 or not self._on_provisional(leg):
                return
            if call.answered or call.a_final or leg.cancelled:
                return
            body = b""
            if status == 183 and resp.body and not call.offer_in_200:   # no offer in an unreliable 1xx
                try:
                    desc = sdp.SessionDescription.parse(resp.body)
                    self._learn_media(call, desc, "b")
                    body = self._sdp_for(call, self._bridge(call, desc), "a", call.a.target[1])
                except sdp.SdpError as err:
                    log.info("call %s: bad early SDP: %s", call.id, err)
            self._respond_a(call, 183 if body else 180, "Session Progress" if body else "Ringing", body=body)
            return
        if status < 300:
            self._on_b_answer(leg, resp)
            return
        self._on_b_failure(leg, status, resp.reason)

    def _on_b_answer(self, leg: Leg, resp: Response) -> None:
        call = leg.call
        assert leg.invite is not None
        self._establish_uac(leg, resp)
        self._ack(leg, leg.invite.cseq[0])
        if call.b is leg:
            return               # a retransmitted 2xx: the ACK was sent again above
        if call.ended or call.b is not None or call.dial_future is None or call.dial_future.done():
            self.trace(call, f"late answer from {leg.remote_target}: hanging it up")
            leg.final = resp.status
            self.stack.send_request(self._request(leg, "BYE"), leg.target)
            self.dialogs.pop((leg.call_id, leg.local_tag), None)
            return
        leg.final = resp.status
        call.b = leg
        self._cancel_branches(call, leg)
        body = b""
        if resp.body:
            try:
                desc = sdp.SessionDescription.parse(resp.body)
                self._learn_media(call, desc, "b")
                call.codec = _codec(desc)
                body = self._sdp_for(call, self._bridge(call, desc), "a", call.a.target[1])
            except sdp.SdpError as err:
                log.warning("call %s: bad SDP answer: %s", call.id, err)
        if leg.user is not None:
            call.callee_number = leg.user.extension
            call.callee_name = leg.user.name
        if not call.answered:
            call.answered = True
            call.answer_time = time.time()
            self._respond_a(call, 200, "OK", body=body)
        self.trace(call, f"answered by {call.callee_number} ({leg.remote_target})")
        if call.dial_future is not None and not call.dial_future.done():
            call.dial_future.set_result(DialResult(DialStatus.ANSWERED, 200, "OK", answered_by=leg.number))

    def _on_b_failure(self, leg: Leg, status: int, reason: str) -> None:
        call = leg.call
        if leg.final:
            return
        leg.final = status
        self.dialogs.pop((leg.call_id, leg.local_tag), None)
        if call.b is not None or call.dial_future is None or call.dial_future.done():
            return
        self.trace(call, f"{leg.number or '?'} answered {status} {reason}")
        self._check_done(call)

    def _check_done(self, call: Call) -> None:
        """Settle ``ring`` when every leg failed and no delayed target is left."""
        future = call.dial_future
        if future is None or future.done() or call.b is not None:
            return
        if call.pending_forks or any(not b.final for b in call.branches):
            return
        if not call.branches:
            future.set_result(self._unreachable(call))
            return
        codes = [b.final for b in call.branches]
        rang = any(b.provisional for b in call.branches)
        if all(c in (486, 600) for c in codes):
            result = DialResult(DialStatus.BUSY, 486, "Busy Here")
        elif all(c == 487 for c in codes) and not any(b.cancelled for b in call.branches):
            result = DialResult(DialStatus.CANCELLED, 487, "Request Terminated")
        elif rang or any(c == 487 for c in codes):
            result = DialResult(DialStatus.NO_ANSWER, 480, "No Answer")
        elif any(c in (403, 603) for c in codes):
            result = DialResult(DialStatus.REJECTED, 603, "Decline")
        elif any(c in (486, 600) for c in codes):
            result = DialResult(DialStatus.BUSY, 486, "Busy Here")
        else:
            result = DialResult(DialStatus.UNAVAILABLE, 480, "Temporarily Unavailable")
        future.set_result(result)

    # -- answer / hangup from the dialplan -----------------------------------------------
    def answer(self, call: Call) -> None:
        if call.answered or call.ended or call.a_final:
            return
        if self.media_services is not None and call.offer is not None:
            try:
                self.local_media(call)
                return
            except (MediaUnavailable, ChannelClosed, rtp_relay.NoPortsAvailable) as err:
                self.trace(call, f"no media channel for the answer ({err or 'call gone'})")
                if call.answered or call.ended or call.a_final:
                    return
        self._open_media(call)
        body = b""
        if call.offer is not None:
            body = self._sdp_for(call, call.offer, "a", call.a.target[1])
            call.codec = _codec(call.offer)
        call.answered = True
        call.answer_time = time.time()
        self._respond_a(call, 200, "OK", body=body)
        self.trace(call, "answered by the PBX")

    def hangup(self, call: Call, code: int, reason: str) -> None:
        if call.ended:
            return
        if not call.answered:
            if call.dial_future is not None and not call.dial_future.done():
                self._cancel_branches(call, None)
            self._respond_a(call, code, reason or _REASONS.get(code, "Temporarily Unavailable"))
            call.hangup_cause = f"{code} {reason}".strip()
            call.hangup_side = "pbx"
            self._end(call)
        else:
            self._hangup_answered(call, "pbx", reason or f"hangup {code}")

    def _hangup_answered(self, call: Call, side: str, cause: str) -> None:
        if call.ended:
            return
        for leg in (call.a, call.b):
            if leg is not None and not (side == leg.side):
                self.stack.send_request(self._request(leg, "BYE"), leg.target)
        call.hangup_side = call.hangup_side or side
        call.hangup_cause = call.hangup_cause or cause
        self._end(call)

    def _end(self, call: Call) -> None:
        if call.ended:
            return
        call.ended = True
        call.end_time = time.time()
        if call.ring_timer is not None:
            call.ring_timer.cancel()
        for handle in call.fork_timers:
            handle.cancel()
        self._cancel_legs(call.origin_legs, None)
        for leg in (call.a, *call.branches, *call.origin_legs):
            if leg.stop_timer is not None:
                leg.stop_timer.cancel()
            if leg.retrans is not None:
                leg.retrans.cancel()
                leg.retrans = None
            self.dialogs.pop((leg.call_id, leg.local_tag), None)
        if call.local is not None:
            call.local.channel.close()
        if call.moh is not None:
            call.moh.close()
        for stream in call.streams:
            if stream is not None:
                stream.close()
        self.calls.pop(call.id, None)
        for extension in call.involved:
            left = self.busy.get(extension, 1) - 1
            if left > 0:
                self.busy[extension] = left
            else:
                self.busy.pop(extension, None)
        if not call.ended_future.done():
            call.ended_future.set_result(None)
        if call.dial_future is not None and not call.dial_future.done():
            call.dial_future.set_result(DialResult(DialStatus.CANCELLED, 487, "Request Terminated"))
        self.completed += 1
        disposition = _disposition(call)
        self.cdr.add(CdrRecord(
            start_time=call.start, answer_time=call.answer_time, end_time=call.end_time,
            caller_number=call.caller_number, caller_name=call.caller_name,
            callee_number=call.callee_number or call.called, callee_name=call.callee_name,
            disposition=disposition, hangup_cause=call.hangup_cause, hangup_side=call.hangup_side,
            codec=call.codec, caller_call_id=call.a.call_id,
            callee_call_id=call.b.call_id if call.b else (call.branches[0].call_id if call.branches else ""),
        ))
        self.trace(call, f"call ended: {disposition}, {call.hangup_cause} ({call.hangup_side})")
        self.bus.publish(CallEnded(call.id, disposition))

    # -- the PBX's own media ---------------------------------------------------------------
    def _relay_hop(self) -> str:
        """The address on which a media channel and the relay reach each other."""
        host = self.relay.bind_host
        if host in ("0.0.0.0", ""):
            return "127.0.0.1"
        return "::1" if host == "::" else host

    @staticmethod
    def _audio_stream(call: Call) -> rtp_relay.RelayStream | None:
        if call.offer is None:
            return None
        for m, stream in zip(call.offer.media, call.streams, strict=False):
            if stream is not None and m.kind == "audio":
                return stream
        return None

    def local_media(self, call: Call, codecs: tuple[str, ...] | None = None,
                    first: tuple[str, ...] | None = None) -> MediaChannel:
        """Answer the caller (if not yet) with the PBX's own media channel and return it.

        Raises ``ChannelClosed`` when the caller is gone (or got 488: no common codec),
        ``MediaUnavailable`` when this call cannot have media.
        """
        if call.ended:
            raise ChannelClosed()
        if call.local is not None and codecs is not None and call.local.negotiated.codec not in codecs:
            raise MediaUnavailable(f"the call was answered with {call.local.negotiated.codec}, not {'/'.join(codecs)}")
        if call.local is not None and not call.local.channel.closed:
            return call.local.channel
        if call.b is not None:
            raise MediaUnavailable("the call is bridged to a phone")
        if call.offer is None or self.media_services is None:
            raise MediaUnavailable("this call has no media")
        try:
            self._open_media(call)
        except rtp_relay.NoPortsAvailable:
            raise MediaUnavailable("no RTP ports left") from None
        stream = self._audio_stream(call)
        if stream is None:
            raise MediaUnavailable("the call has no audio stream")
        hop = self._relay_hop()
        services = self.media_services
        if call.local is not None:                      # answered before, detached while ringing
            channel = MediaChannel.open(self.relay.allocator, hop, tone_zone=services.tone_zone)
            channel.start(call.local.negotiated)
            call.local.channel = channel
            stream.set_remote("b", hop, channel.local_port)
            return channel
        try:
            local = callmedia.answer_locally(call.offer, self.relay.allocator, hop, hop, services.codec_policy,
                                             services.tone_zone, via=(hop, stream.b.local_port), codecs=codecs,
                                             first=first)
        except NegotiationError as err:
            self.trace(call, f"cannot answer: {err}")
            if not call.answered:
                self.hangup(call, 488, "Not Acceptable Here")
            raise ChannelClosed() from None
        except rtp_relay.NoPortsAvailable:
            raise MediaUnavailable("no RTP ports left") from None
        stream.set_remote("b", hop, local.channel.local_port)
        call.local = local
        call.codec = local.negotiated.codec
        call.bridge_offer = narrow_offer(call.offer, local.negotiated)
        if not call.answered:
            body = self._sdp_for(call, local.answer, "a", call.a.target[1])
            call.answered = True
            call.answer_time = time.time()
            self._respond_a(call, 200, "OK", body=body)
            self.trace(call, f"answered by the PBX ({local.negotiated.codec})")
        return local.channel

    def _detach_local(self, call: Call) -> None:
        """Before ringing a phone: the PBX's channel leaves side b of the stream."""
        if call.local is None or call.local.channel.closed:
            return
        call.local.channel.close()
        stream = self._audio_stream(call)
        if stream is not None:
            stream.set_remote("b", "0.0.0.0", 0)

    def _callee_offer(self, call: Call, callee_host: str) -> sdp.SessionDescription:
        """What a callee is offered: what the caller sends (all it offered, or the codec the
        PBX answered it with), plus the codecs the PBX transcodes to, in the order the
        codec policy gives for the callee's network."""
        base = call.bridge_offer or call.offer
        assert base is not None
        if self.media_services is None:
            return base
        return order_offer(offer_for_callee(base), self.media_services.codec_policy.preference(callee_host))

    def _bridge(self, call: Call, answer: sdp.SessionDescription) -> sdp.SessionDescription:
        """The callee's answer as the caller must see it; transcoding set up when needed."""
        base = call.bridge_offer or call.offer
        if base is None:
            return answer
        try:
            bridged = callmedia.bridge(self._audio_stream(call), base, answer)
        except NegotiationError as err:
            self.trace(call, f"no codec works for both phones: {err}")
            return answer
        plan = bridged.plan
        call.translators = (bridged.a_to_b, bridged.b_to_a)
        if plan is not None:
            call.side_codec = {"a": (plan.a_codec, plan.a_pt, plan.a_event_pt),
                               "b": (plan.b_codec, plan.b_pt, plan.b_event_pt)}
            if plan.transcodes:
                call.codec = f"{plan.a_codec}<>{plan.b_codec}"
                self.trace(call, f"transcoding {plan.a_codec} (caller) <> {plan.b_codec} (callee)")
            else:
                call.codec = plan.a_codec
                self.trace(call, f"{plan.a_codec}, DTMF translated (telephone-event on one side only)")
        else:
            shared = first_voice(answer)
            call.side_codec = {"a": shared, "b": shared} if shared else {}
        return bridged.answer

    def _hold_music(self, call: Call, side: str, desc: sdp.SessionDescription) -> None:
        """``side`` offered ``desc``: on hold (sendonly/inactive/0.0.0.0), the other party hears
        music played into ``side``'s place on the relay; on resume the phone gets it back
        (``_learn_media`` already pointed the relay at it again)."""
        if self.media_services is None or call.b is None:
            return
        held = sdp.hold_state(desc) == sdp.HoldState.HELD
        if not held:
            if call.moh is not None:
                call.moh.close()
                call.moh = None
                stream = self._audio_stream(call)
                if stream is not None:
                    stream.set_transcoders(*call.translators)
                self.trace(call, "music on hold stopped")
            return
        codec = call.side_codec.get(side)
        stream = self._audio_stream(call)
        if call.moh is not None or codec is None or stream is None:
            return
        hop = self._relay_hop()
        endpoint = stream.a if side == "a" else stream.b
        try:
            music = self.media_services.sounds.music()
            channel = MediaChannel.open(self.relay.allocator, hop, tone_zone=self.media_services.tone_zone)
        except (OSError, ValueError, rtp_relay.NoPortsAvailable) as err:
            self.trace(call, f"no music on hold: {err}")
            return
        channel.start(Negotiated(codec[0], codec[1], codec[2], hop, endpoint.local_port, "recvonly"))
        try:
            channel.start_music(music)
        except ValueError as err:
            self.trace(call, f"no music on hold: {err}")
        stream.set_remote(side, hop, channel.local_port)
        a_to_b, b_to_a = call.translators
        if side == "a":      # only the music passes, not what the holding phone may still send
            stream.set_transcoders(only_from(channel.ssrc, a_to_b), b_to_a)
        else:
            stream.set_transcoders(a_to_b, only_from(channel.ssrc, b_to_a))
        call.moh = channel
        self.trace(call, f"music on hold for the {'callee' if side == 'a' else 'caller'}")

    def _local_request(self, leg: Leg, txn: Transaction, req: Request) -> None:
        """An in-dialog request from a caller whose media the PBX terminates."""
        call = leg.call
        local = call.local
        assert local is not None
        if req.method == "INFO":
            digit = callmedia.info_digit(req.get("content-type") or "", req.body)
            if digit is not None and not local.channel.closed:
                local.channel.inject_digit(digit)
            self.stack.reply(txn, 200, "OK", to_tag=leg.local_tag)
            return
        if req.method not in ("INVITE", "UPDATE"):
            self.stack.reply(txn, 200, "OK", to_tag=leg.local_tag)
            return
        if req.method == "INVITE":
            self.stack.respond(txn, make_response(req, 100, "Trying"))
        body = b""
        if req.body:
            try:
                desc = sdp.SessionDescription.parse(req.body)
                self._learn_media(call, desc, "a")
                answer = callmedia.reanswer(local, desc, self._relay_hop())
                body = self._sdp_for(call, answer, "a", leg.target[1])
            except (sdp.SdpError, NegotiationError) as err:
                self.stack.reply(txn, 488, f"Not Acceptable Here ({err})", to_tag=leg.local_tag)
                return
        else:
            body = self._sdp_for(call, local.answer, "a", leg.target[1])
        contact = req.get("contact")
        if contact:
            try:
                leg.remote_target = str(parse_address(contact).uri)
            except SipSyntaxError:
                pass
        extra = [("contact", leg.contact), ("content-type", "application/sdp")]
        reply = make_response(txn.request, 200, "OK", leg.local_tag, extra, body)
        self.stack.respond(txn, reply)
        if req.method == "INVITE":
            self._retransmit_2xx(leg, reply)
            self.trace(call, "re-INVITE answered by the PBX" + (f" ({_direction(req.body)})" if req.body else ""))

    # -- CANCEL, ACK, in-dialog requests -------------------------------------------------
    def on_cancel(self, txn: Transaction, req: Request) -> None:
        invite = self.stack.layer.find_server(req, "INVITE")
        if invite is None:
            self.stack.reply(txn, 481, "Call/Transaction Does Not Exist")
            return
        self.stack.reply(txn, 200, "OK")
        call = invite.data
        if not isinstance(call, Call) or call.answered or call.ended or call.a_final:
            return
        self.trace(call, "the caller cancelled")
        self._respond_a(call, 487, "Request Terminated")
        call.hangup_side = "caller"
        call.hangup_cause = "cancelled"
        self._cancel_branches(call, None)
        if call.dial_future is not None and not call.dial_future.done():
            call.dial_future.set_result(DialResult(DialStatus.CANCELLED, 487, "Request Terminated"))
        else:
            self._end(call)

    def on_ack(self, req: Request, source: Target) -> None:
        leg = self.dialogs.get((req.call_id, req.to_tag or ""))
        if leg is None:
            return
        if leg.retrans is not None:
            leg.retrans.cancel()
            leg.retrans = None
        call = leg.call
        if leg.side == "a" and call.offer_in_200 and call.answered and not call.ended:
            call.offer_in_200 = False
            self._answer_in_ack(call, req)

    def _answer_in_ack(self, call: Call, ack: Request) -> None:
        """A delayed-offer caller's answer, in its ACK, to the offer of our 200 OK."""
        try:
            if not ack.body:
                raise sdp.SdpError("the ACK carries no SDP answer")
            desc = sdp.SessionDescription.parse(ack.body)
            if len(desc.media) != len(call.streams):
                raise sdp.SdpError("the answer does not have one m= line per offered stream")
        except sdp.SdpError as err:
            self.trace(call, f"delayed offer not answered: {err}")
            self._hangup_answered(call, "pbx", "no SDP answer in the ACK")
            return
        self._learn_media(call, desc, "a")
        call.offer = desc
        self.trace(call, f"the caller answered our offer in its ACK ({_codec(desc)})")

    def on_stray_response(self, resp: Response, source: Target) -> None:
        if resp.status < 200 or resp.status >= 300 or resp.cseq[1] != "INVITE":
            return
        leg = self.dialogs.get((resp.call_id, resp.from_tag or ""))
        if leg is not None and leg.ack_bytes:
            self.stack.send_raw(leg.ack_bytes, leg.target)       # our ACK was lost

    def _in_dialog(self, txn: Transaction, req: Request) -> None:
        leg = self.dialogs.get((req.call_id, req.to_tag or ""))
        if leg is None:
            self.stack.reply(txn, 481, "Call/Transaction Does Not Exist")
            return
        call = leg.call
        if req.method == "BYE":
            self.stack.reply(txn, 200, "OK", to_tag=leg.local_tag)
            if not call.ended:
                side = "caller" if leg.side == "a" else "callee"
                self.trace(call, f"{side} hung up")
                call.hangup_side = side
                call.hangup_cause = "normal clearing"
                peer = self._peer(leg)
                if peer is not None:
                    self.stack.send_request(self._request(peer, "BYE"), peer.target)
                self._end(call)
            return
        if call.local is not None and call.b is None and leg.side == "a" and not call.ended:
            self._local_request(leg, txn, req)
            return
        peer = self._peer(leg)
        if peer is None or call.ended:
            self.stack.reply(txn, 481, "Call/Transaction Does Not Exist", to_tag=leg.local_tag)
            return
        if req.method == "INVITE":
            if leg.pending is not None or peer.pending is not None:
                self.stack.reply(txn, 491, "Request Pending", to_tag=leg.local_tag)
                return
            self.stack.respond(txn, make_response(req, 100, "Trying"))
        contact = req.get("contact")
        if contact:
            try:
                leg.remote_target = str(parse_address(contact).uri)
            except SipSyntaxError:
                pass
        body = b""
        if req.body:
            try:
                desc = sdp.SessionDescription.parse(req.body)
                self._learn_media(call, desc, leg.side)
                self._hold_music(call, leg.side, desc)
                body = self._sdp_for(call, desc, peer.side, peer.target[1])
            except sdp.SdpError as err:
                self.stack.reply(txn, 488, f"Not Acceptable Here ({err})", to_tag=leg.local_tag)
                return
        if req.method == "INVITE":
            self.trace(call, f"re-INVITE from the {'caller' if leg.side == 'a' else 'callee'}"
                       + (f" ({_direction(req.body)})" if req.body else ""))
        out = self._request(peer, req.method, body)
        if not body and req.body:
            out.body = req.body
        ctype = req.get("content-type")
        if req.body and not body and ctype:
            out.headers["content-type"] = [ctype]
        leg.pending = txn
        relay_txn = self.stack.send_request(out, peer.target)
        relay_txn.on_response = lambda t, resp: self._relay_response(leg, peer, txn, out, resp)
        relay_txn.on_timeout = lambda t: self._relay_timeout(leg, txn)

    def _relay_response(self, leg: Leg, peer: Leg, txn: Transaction, out: Request, resp: Response) -> None:
        call = leg.call
        if resp.status < 200:
            return
        leg.pending = None
        if out.method == "INVITE" and resp.status < 300:
            self._ack(peer, out.cseq[0])
        if call.ended:
            return
        body = b""
        if resp.body and resp.status < 300:
            try:
                desc = sdp.SessionDescription.parse(resp.body)
                self._learn_media(call, desc, peer.side)
                body = self._sdp_for(call, desc, leg.side, leg.target[1])
                if out.method == "INVITE":
                    call.codec = _codec(desc) or call.codec
            except sdp.SdpError as err:
                log.info("call %s: bad SDP in a relayed answer: %s", call.id, err)
        extra = [("contact", leg.contact)] if out.method == "INVITE" and resp.status < 300 else []
        if body:
            extra.append(("content-type", "application/sdp"))
        reply = make_response(txn.request, resp.status, resp.reason, leg.local_tag, extra, body)
        self.stack.respond(txn, reply)
        if out.method == "INVITE" and resp.status < 300:
            self._retransmit_2xx(leg, reply)

    def _relay_timeout(self, leg: Leg, txn: Transaction) -> None:
        leg.pending = None
        if txn.state in ("proceeding", "trying"):
            self.stack.reply(txn, 408, "Request Timeout", to_tag=leg.local_tag)

    # -- life ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Hang up every call (BYE to answered legs, CANCEL/503 otherwise); CDRs written."""
        for call in list(self.calls.values()):
            if call.answered:
                self._hangup_answered(call, "pbx", "PBX shutting down")
            else:
                self._cancel_branches(call, None)
                self._respond_a(call, 503, "Service Unavailable (PBX shutting down)")
                call.hangup_side = "pbx"
                call.hangup_cause = "PBX shutting down"
                self._end(call)
            if call.task is not None:
                call.task.cancel()

    def describe_calls(self) -> list[dict]:
        out = []
        now = time.time()
        for call in self.calls.values():
            media = []
            for stream in call.streams:
                if stream is not None:
                    media.append(stream.stats())
            out.append({
                "id": call.id, "state": call.state, "caller": call.caller_number,
                "caller_name": call.caller_name, "called": call.called,
                "callee": call.callee_number, "started": call.start,
                "duration": round(now - call.start, 1),
                "answered": call.answer_time, "codec": call.codec,
                "caller_call_id": call.a.call_id,
                "callee_call_id": call.b.call_id if call.b else "",
                "media": media,
            })
        return out


_REASONS = {404: "Not Found", 480: "Temporarily Unavailable", 486: "Busy Here", 503: "Service Unavailable",
            603: "Decline", 403: "Forbidden", 487: "Request Terminated"}


def _disposition(call: Call) -> str:
    if call.answer_time is not None:
        return "ANSWERED"
    last = call.last_dial
    if call.a_final in (486, 600) or (last is not None and last.status == DialStatus.BUSY):
        return "BUSY"
    if call.a_final == 487 or (last is not None and last.status in (DialStatus.NO_ANSWER, DialStatus.CANCELLED)):
        return "NO ANSWER"
    return "FAILED"


def _codec(desc: sdp.SessionDescription) -> str:
    for m in desc.media:
        if m.kind == "audio" and m.port and m.formats:
            fmt = m.formats[0]
            mapping = m.rtpmap()
            try:
                found = mapping.get(int(fmt))
            except ValueError:
                found = None
            if found:
                return found[0].upper()
            return STATIC_CODECS.get(fmt, fmt)
    return ""


def _direction(body: bytes) -> str:
    try:
        desc = sdp.SessionDescription.parse(body)
    except sdp.SdpError:
        return "bad SDP"
    return ", ".join(desc.media_direction(m) for m in desc.media)
