"""Calls the PBX places itself: ring a user's phones first, then run something once one answers.

Seed, secondary menu item 9, *Générer un appel*: "a test call or an echo test using
a dialplan procedure". The admin names an extension and a number; the PBX rings
every registered contact of the extension (it is the caller here, so the phone
shows the number it is about to call), and the phone that answers becomes leg
``a`` of an ordinary call whose dialplan then runs as if that phone had dialled the
number: ``76`` reaches the echo test, ``202`` rings another phone, an outside
number leaves through a trunk. The same mechanism runs a single dialplan
application instead of a procedure — recording a sound by phone (seed,
"Enregistrement et lecture des messages audios": "l'appel arrive sur le
dispositif associé à votre compte … raccrocher pour enregistrer").

How it fits the call engine: the phone is offered the relay stream's side ``a``
with every codec the PBX handles (ordered by the codec policy for the phone's
network). Its SDP answer then stands where a caller's offer would (``call.offer``),
so everything that follows — the PBX's own media channel, ringing a callee,
transcoding when the callee picks another codec — works unchanged. The call is
answered from the start (``a_final`` = 200), so nothing is ever "responded" to
leg ``a``; hanging up, BYE from either side and the CDR are the engine's.

Rule: this module decides nothing about routing (the dialplan does) and parses no
bytes (the SIP core does).
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from wpbxd.errors import UserError, ValidationError
from wpbxd.events import CallStarted
from wpbxd.telephony.dialplan import engine
from wpbxd.telephony.dialplan.apps.base import Application
from wpbxd.telephony.dialplan.context import CallEnd, Outcome
from wpbxd.telephony.media import relay as rtp_relay
from wpbxd.telephony.media import sdp
from wpbxd.telephony.media.negotiation import pbx_offer
from wpbxd.telephony.sip.message import Response
from wpbxd.telephony.sip.stack import random_token

if TYPE_CHECKING:
    from wpbxd.telephony.b2bua import B2bua, Call, Leg

log = logging.getLogger(__name__)

MAX_NUMBER = 64
NUMBER_CHARS = set("0123456789*#+")


def check_number(number: str, what: str = "number") -> str:
    """A number the dialplan can be run with: digits, ``*``, ``#`` and ``+``."""
    number = str(number or "").strip()
    if not number or len(number) > MAX_NUMBER or not set(number) <= NUMBER_CHARS:
        raise ValidationError(f"{number!r} is not a number (digits, '*', '#', '+'; at most {MAX_NUMBER})", what)
    return number


class Originator:
    """The originate side of ``B2bua`` (a mixin: it uses the engine's legs, dialogs and relay)."""

    def originate(self: "B2bua", extension: str, number: str = "", *, procedure: str | None = None,
                  app: Application | None = None, label: str = "", timeout: float | None = None) -> "Call":
        """Ring ``extension``'s phones; when one answers, run ``procedure`` (default: the
        extension's own) with ``number`` as the called number, or run ``app`` alone.

        Returns the call at once (it is listed by ``describe_calls`` while it rings).
        Raises ``ValidationError`` for an unknown extension, one with no registered
        phone, or a bad number, and ``UserError`` when no RTP port is left.
        """
        from wpbxd.telephony.b2bua import Call

        extension = check_number(extension, "extension")
        if app is None:
            number = check_number(number)
        user = self.directory.by_extension(extension)
        if user is None:
            raise ValidationError(f"no user has extension {extension}", "extension")
        contacts = self.registrar.contacts(user.extension, time.time())
        if not contacts:
            raise ValidationError(f"extension {extension} has no registered phone", "extension")
        try:
            stream = self.relay.open_stream()
        except rtp_relay.NoPortsAvailable:
            raise UserError("no RTP ports left for a new call") from None
        call = Call()
        call.originated = True
        call.caller = user
        call.caller_number = user.extension
        call.caller_name = user.name
        call.called = number or (app.name if app is not None else "")
        call.streams = [stream]
        call.origin_task = (procedure or user.dialplan or "users", app)
        label = (label or (f"Call to {number}" if number else "PBX")).replace('"', "")
        self.calls[call.id] = call
        self._involve(call, user.extension)
        self.bus.publish(CallStarted(call.id, call.caller_number, call.called))
        self.trace(call, f"generated call: ringing {user.extension} ({user.name}), then "
                   + (f"{call.called} in procedure {call.origin_task[0]}" if app is None else f"application {app.name}"))
        for binding in contacts:
            self._ring_origin(call, stream, binding, label, number or "wpbx")
        if not any(not leg.final for leg in call.origin_legs):
            self._origin_failed(call, "480 no phone could be rung")
            return call
        ring = timeout or self.ring_timeout()
        call.ring_timer = asyncio.get_running_loop().call_later(ring, self._origin_timeout, call)
        return call

    # -- ringing the originating phone ----------------------------------------------------
    def _ring_origin(self: "B2bua", call: "Call", stream: rtp_relay.RelayStream, binding, label: str,
                     shown: str) -> None:
        from wpbxd.telephony.b2bua import Leg

        leg = Leg(call, "a")
        leg.user = call.caller
        leg.binding = binding
        leg.number = call.caller_number
        leg.call_id = random_token(10) + "@wpbx"
        leg.target = self.stack.route_to(binding.source, binding.contact)
        leg.remote_target = binding.contact
        host = self.stack.local_host(binding.source[1])
        leg.local_hdr = f'"{label}" <sip:{shown}@{host}>;tag={leg.local_tag}'
        leg.remote_hdr = f"<sip:{call.caller_number}@{host}>"
        leg.contact = self.stack.contact(binding.source, shown)
        policy = self.media_services.codec_policy if self.media_services is not None else None
        offer = pbx_offer(policy.preference(binding.source[1]) if policy is not None else ())
        body = sdp.rewrite_for_relay(offer, self.stack.local_host(binding.source[1]), [stream.a.local_port])
        req = self._request(leg, "INVITE", body.to_bytes())
        leg.invite = req
        self.dialogs[(leg.call_id, leg.local_tag)] = leg
        txn = self.stack.send_request(req, leg.target)
        leg.invite_txn = txn
        txn.on_response = lambda t, resp, leg=leg: self._on_origin_response(leg, resp)
        txn.on_timeout = lambda t, leg=leg: self._on_origin_failure(leg, 408, "Request Timeout")
        call.origin_legs.append(leg)

    def _on_origin_response(self: "B2bua", leg: "Leg", resp: Response) -> None:
        call = leg.call
        status = resp.status
        if status < 200:
            if status != 100:
                self._on_provisional(leg)
            return
        if status >= 300:
            self._on_origin_failure(leg, status, resp.reason)
            return
        assert leg.invite is not None
        self._establish_uac(leg, resp)
        self._ack(leg, leg.invite.cseq[0])
        if call.a is leg:
            return                                  # a retransmitted 2xx: ACKed again above
        leg.final = status
        if call.ended or call.answered:
            self.trace(call, f"late answer from {leg.remote_target}: hanging it up")
            self.stack.send_request(self._request(leg, "BYE"), leg.target)
            self.dialogs.pop((leg.call_id, leg.local_tag), None)
            return
        try:
            desc = sdp.SessionDescription.parse(resp.body) if resp.body else None
        except sdp.SdpError as err:
            desc = None
            self.trace(call, f"the phone answered with bad SDP: {err}")
        call.a = leg
        self._cancel_legs(call.origin_legs, keep=leg)
        if call.ring_timer is not None:
            call.ring_timer.cancel()
            call.ring_timer = None
        if desc is None or not any(m.kind == "audio" and m.port for m in desc.media):
            call.answered, call.answer_time, call.a_final = True, time.time(), 200
            self._hangup_answered(call, "pbx", "the phone answered without audio")
            return
        call.offer = desc
        self._learn_media(call, desc, "a")
        from wpbxd.telephony.b2bua import _codec

        call.codec = _codec(desc)
        call.answered = True
        call.answer_time = time.time()
        call.a_final = 200                   # leg a is answered: nothing is ever responded to it
        self.trace(call, f"{call.caller_number} answered ({leg.remote_target}, {call.codec})")
        procedure, app = call.origin_task
        if app is None:
            call.task = asyncio.get_running_loop().create_task(self._run(call, procedure))
        else:
            call.task = asyncio.get_running_loop().create_task(self._run_app(call, app))

    def _on_origin_failure(self: "B2bua", leg: "Leg", status: int, reason: str) -> None:
        call = leg.call
        if leg.final:
            return
        leg.final = status
        self.dialogs.pop((leg.call_id, leg.local_tag), None)
        if call.answered or call.ended:
            return
        self.trace(call, f"{call.caller_number} at {leg.remote_target} answered {status} {reason}")
        if all(other.final for other in call.origin_legs):
            codes = [other.final for other in call.origin_legs]
            cause = f"{status} {reason}"
            if all(code in (486, 600) for code in codes):
                call.a_final = 486
            self._origin_failed(call, cause)

    def _origin_timeout(self: "B2bua", call: "Call") -> None:
        call.ring_timer = None
        if call.answered or call.ended:
            return
        self.trace(call, f"{call.caller_number} did not answer")
        self._cancel_legs(call.origin_legs, keep=None)
        call.a_final = 487
        self._origin_failed(call, "no answer")

    def _origin_failed(self: "B2bua", call: "Call", cause: str) -> None:
        if call.ended:
            return
        call.hangup_side = "caller"
        call.hangup_cause = cause
        self._end(call)

    async def _run_app(self: "B2bua", call: "Call", app: Application) -> None:
        """Run one dialplan application for an originated call, then hang up."""
        ctx = self.context_class(self, call, "")
        try:
            outcome = await engine.run_application(self.dialplan(), ctx, app)
        except asyncio.CancelledError:
            outcome = Outcome(CallEnd.HANGUP, 503, "Service Unavailable")
        except Exception:
            log.exception("call %s: application %s failed", call.id, app.name)
            outcome = Outcome(CallEnd.HANGUP, 500, "Server Internal Error")
        if not call.ended:
            ended = outcome.reason if outcome.end == CallEnd.HANGUP and outcome.reason else f"{app.name} ended"
            self._hangup_answered(call, "pbx", ended)


def originate_command(get_engine: "Callable[[], B2bua | None]") -> Callable[[dict], dict]:
    """Control command ``calls.originate`` ``{extension, number, procedure?}``: ring the
    extension, then run ``number`` through the dialplan as if it had dialled it."""

    def command(args: dict) -> dict:
        b2bua = _running(get_engine)
        procedure = str(args.get("procedure") or "").strip() or None
        if procedure is not None and procedure not in b2bua.dialplan().procedures:
            raise ValidationError(f"no procedure {procedure!r}", "procedure")
        call = b2bua.originate(str(args.get("extension") or ""), str(args.get("number") or ""),
                               procedure=procedure)
        return {"call_id": call.id, "state": call.state}

    return command


def record_command(get_engine: "Callable[[], B2bua | None]") -> Callable[[dict], dict]:
    """Control command ``sounds.record`` ``{name, extension}``: the PBX calls the extension,
    which records sound ``name`` after the beep (application ``record_sound``)."""

    def command(args: dict) -> dict:
        from wpbxd.telephony.dialplan.apps.record_sound import RecordSound

        b2bua = _running(get_engine)
        app = RecordSound({"name": args.get("name"), "max_seconds": args.get("max_seconds")})
        call = b2bua.originate(str(args.get("extension") or ""), app=app, label=f"Record {app.params['name']}")
        return {"call_id": call.id, "state": call.state}

    return command


def _running(get_engine: "Callable[[], B2bua | None]") -> "B2bua":
    b2bua = get_engine()
    if b2bua is None:
        raise UserError("the call engine is not running")
    return b2bua
