"""The media side of one call, as the call engine (B2BUA) uses it.

Responsible for:
  - ``answer_locally``: when the dialplan asks for the PBX's own media
    (``CallContext.media()``), choose the codec by the seed's policy (narrowed
    to ``codecs`` when the application needs particular ones, e.g. G.711 for a
    fax), open a ``MediaChannel`` on a port of the RTP range and build the SDP answer;
  - ``reanswer``: a re-INVITE on such a call (hold, a new address) gets an answer
    from the same port with the same codec, and the channel follows the peer;
  - ``callee_offer`` / ``bridge``: on a relayed call, offer the callee the codecs the
    PBX can transcode to, and when the callee answers with one the caller lacks,
    or only one of the two has telephone-event (RFC 4733 events then cross as
    in-band tones and back, ``dtmf_interworking.py``), put translators on the
    relay stream and rewrite the answer for the caller;
  - ``info_digit``: the digit of a SIP INFO (``application/dtmf-relay`` or
    ``application/dtmf``), for the channel or to be relayed.

Rule: no SIP here (bytes of SDP in and out, records); the B2BUA sends and receives.
"""

import dataclasses
from dataclasses import dataclass

from wpbxd.telephony.media import sdp
from wpbxd.telephony.media.channel import MediaChannel
from wpbxd.telephony.media.negotiation import (
    BridgePlan,
    CodecPolicy,
    Negotiated,
    NegotiationError,
    answer_for_caller,
    answer_for_channel,
    offer_for_callee,
    plan_bridge,
    put_first,
    restrict,
)
from wpbxd.telephony.media.relay import PortAllocator, RelayStream
from wpbxd.telephony.media.transcode import PacketTranslator, translators

DTMF_RELAY = "application/dtmf-relay"
DTMF_PLAIN = "application/dtmf"
DIGITS = "0123456789*#ABCD"


@dataclass
class LocalMedia:
    channel: MediaChannel
    negotiated: Negotiated
    answer: sdp.SessionDescription


def answer_locally(offer: sdp.SessionDescription, allocator: PortAllocator, bind_host: str,
                   local_address: str, policy: CodecPolicy, tone_zone: str = "fr",
                   via: tuple[str, int] | None = None, codecs: tuple[str, ...] | None = None,
                   first: tuple[str, ...] | None = None) -> LocalMedia:
    """Open a channel for ``offer`` and the answer to send. Raises ``NegotiationError``
    (488 for the caller) or ``NoPortsAvailable`` (503).

    ``codecs``: only these may be chosen (``negotiation.FAX_CODECS`` for a fax
    receiver); an offer without any of them gets ``NegotiationError``. ``first``: these
    are preferred when offered, the policy's order otherwise (a fax detector).

    ``via``: the channel talks to this address instead of the offer's (the call
    engine puts it behind the relay stream's side b, so the caller's media address
    never changes when the call is later bridged to somebody).
    """
    peer = offer.connection
    for m in offer.media:
        if m.kind == "audio" and m.port:
            peer = offer.media_connection(m)
            break
    preference = put_first(restrict(policy.preference(peer), codecs), first)
    answer_for_channel(offer, local_address, 1, preference)   # refuse before taking a port
    channel = MediaChannel.open(allocator, bind_host, tone_zone=tone_zone)
    answer, negotiated = answer_for_channel(offer, local_address, channel.local_port, preference)
    if via is not None:
        negotiated = dataclasses.replace(negotiated, remote_host=via[0], remote_port=via[1])
    channel.start(negotiated)
    return LocalMedia(channel, negotiated, answer)


def reanswer(local: LocalMedia, offer: sdp.SessionDescription, local_address: str) -> sdp.SessionDescription:
    """The answer to a new offer on a call the PBX terminates (hold/resume, a moved phone):
    the same port, the codec kept when still offered, else chosen again; the channel
    keeps talking to where it did (the relay follows the phone)."""
    preference = (local.negotiated.codec,) + tuple(
        c for c in ("PCMA", "PCMU", "G729") if c != local.negotiated.codec)
    answer, negotiated = answer_for_channel(offer, local_address, local.channel.local_port, preference)
    negotiated = dataclasses.replace(negotiated, remote_host=local.negotiated.remote_host,
                                     remote_port=local.negotiated.remote_port)
    answer = sdp.SessionDescription(
        origin=sdp.Origin(local.answer.origin.username, local.answer.origin.sess_id,
                          local.answer.origin.sess_version + 1, "IN", local.answer.origin.addrtype,
                          local.answer.origin.address),
        connection=answer.connection, media=answer.media, session_name=answer.session_name,
        other_lines=answer.other_lines, connection_addrtype=answer.connection_addrtype)
    local.negotiated = negotiated
    local.answer = answer
    local.channel.start(negotiated)
    return answer


def callee_offer(offer: sdp.SessionDescription) -> sdp.SessionDescription:
    """The caller's offer plus the codecs the PBX can transcode to (after the caller's own)."""
    return offer_for_callee(offer)


@dataclass(frozen=True)
class Bridge:
    """The caller's view of a callee's answer, and the transcoding put on the stream."""

    answer: sdp.SessionDescription
    plan: BridgePlan | None
    a_to_b: PacketTranslator | None = None
    b_to_a: PacketTranslator | None = None


def bridge(stream: RelayStream | None, offer_a: sdp.SessionDescription,
           answer_b: sdp.SessionDescription) -> Bridge:
    """The answer for the caller, and the transcoding/DTMF plan now active on ``stream``
    (``plan`` None: plain relay). Raises ``NegotiationError`` when no codec can work."""
    plan = plan_bridge(offer_a, answer_b)
    if plan is None:
        if stream is not None:
            stream.set_transcoders(None, None)
        return Bridge(answer_b, None)
    a_to_b, b_to_a = translators(plan)
    if stream is not None:
        stream.set_transcoders(a_to_b, b_to_a)
    return Bridge(answer_for_caller(answer_b, plan), plan, a_to_b, b_to_a)


def info_digit(content_type: str, body: bytes) -> str | None:
    """The key of a DTMF SIP INFO: ``application/dtmf-relay`` (``Signal=5``) or
    ``application/dtmf`` (``5``); ``None`` for anything else."""
    kind = content_type.split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace").strip()
    if kind == DTMF_RELAY:
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                value = value.strip().upper()
                return value if len(value) == 1 and value in DIGITS else None
        return None
    if kind == DTMF_PLAIN:
        value = text.upper()
        if value.isdigit() and 10 <= int(value) <= 15:
            return DIGITS[int(value)]
        return value if len(value) == 1 and value in DIGITS else None
    return None


__all__ = ["Bridge", "LocalMedia", "NegotiationError", "answer_locally", "reanswer", "callee_offer", "bridge",
           "info_digit"]
