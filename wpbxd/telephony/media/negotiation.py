"""Codec choice (RFC 3264 offer/answer) with the seed's policy, and transcoding plans.

Responsible for:
  - ``CodecPolicy``: which voice codecs the PBX prefers for a peer address. Seed
    "SIP-RTP", *Activer l'utilisation des codecs large bande sur le LAN*: peers on
    LAN networks get uncompressed G.711 first, remote peers G.729 first; the admin
    can switch that off for the LAN and force G.711 for listed networks (a VPN
    the PBX would otherwise treat as LAN).
  - ``pbx_offer``: what the PBX offers when it speaks first.
  - ``answer_for_channel``: the SDP answer when the PBX itself terminates the
    media (IVR, voicemail, echo), with the negotiated codec and telephone-event;
    ``restrict`` narrows the policy's preference to the codecs an application
    needs (a fax receiver: G.711 only, ``FAX_CODECS``).
  - ``offer_for_callee`` / ``plan_bridge`` / ``answer_for_caller``: for a relayed
    call, offer the callee the codecs the PBX can transcode to as well, and when the
    callee picks one the caller did not offer, say how to transcode both ways.
    A callee that shares the caller's codec but not telephone-event (only one
    leg negotiated RFC 4733) also gets a plan: the stream goes through the
    media-processing path, which plays events as in-band tones one way and turns
    detected tones into events the other (``dtmf_interworking.py``). When both
    legs share the codec and both or neither have telephone-event, the call
    stays a pure relay.

Rule: sans-IO and pure; SDP records in, SDP records and plans out.
"""

import dataclasses
import ipaddress
import os
from dataclasses import dataclass
from typing import Any

from wpbxd.telephony.media import sdp
from wpbxd.telephony.media.codec import CODECS

G711 = ("PCMA", "PCMU")
COMPRESSED = ("G729",)
FAX_CODECS = G711              # fax modems (V.21/V.27ter/V.29) do not survive a speech codec
TELEPHONE_EVENT = "TELEPHONE-EVENT"
DEFAULT_EVENT_PT = 101
DEFAULT_LAN_NETWORKS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,169.254.0.0/16,fc00::/7,fe80::/10,::1/128"
EVENT_FMTP = "0-16"          # RFC 4733 §3.2: the DTMF events
DYNAMIC_PT_FIRST = 96        # RFC 3551 §3

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NegotiationError(ValueError):
    """No common codec (the caller gets 488 Not Acceptable Here); the message says which."""


def parse_networks(text: Any) -> tuple[Network, ...]:
    """A comma or space separated list of networks (``192.168.1.0/24``, an address)."""
    out: list[Network] = []
    for item in str(text or "").replace(",", " ").split():
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network (like 192.168.1.0/24)") from None
    return tuple(out)


def networks_setting(value: Any) -> str:
    """Validator for the network-list settings: normalised text, or ``ValidationError``."""
    from wpbxd.errors import ValidationError
    try:
        return ",".join(str(n) for n in parse_networks(value))
    except ValueError as err:
        raise ValidationError(str(err)) from None


@dataclass(frozen=True)
class CodecPolicy:
    lan_networks: tuple[Network, ...] = parse_networks(DEFAULT_LAN_NETWORKS)
    wideband_networks: tuple[Network, ...] = ()
    wideband_on_lan: bool = True

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> "CodecPolicy":
        return cls(parse_networks(values.get("media.lan_networks", DEFAULT_LAN_NETWORKS)),
                   parse_networks(values.get("media.wideband_networks", "")),
                   bool(int(values.get("media.wideband_on_lan", 1))))

    def preference(self, address: str | None) -> tuple[str, ...]:
        """Codec names, preferred first, for a peer at ``address``."""
        uncompressed = G711 + COMPRESSED
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return COMPRESSED + G711
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.wideband_networks):
            return uncompressed
        if self.wideband_on_lan and any(ip in net for net in self.lan_networks):
            return uncompressed
        return COMPRESSED + G711


def put_first(preference: tuple[str, ...], first: tuple[str, ...] | None) -> tuple[str, ...]:
    """``preference`` with the codecs of ``first`` (that it holds) moved to the front, in
    ``first``'s order: a fax detector wants G.711 when the caller offers it, without
    refusing a G.729-only voice caller."""
    if not first:
        return preference
    front = tuple(name for name in first if name in preference)
    return front + tuple(name for name in preference if name not in front)


def restrict(preference: tuple[str, ...], codecs: tuple[str, ...] | None) -> tuple[str, ...]:
    """``preference`` keeping only ``codecs`` (its order kept); all of it when ``codecs`` is None."""
    if codecs is None:
        return preference
    return tuple(name for name in preference if name in codecs)


@dataclass(frozen=True)
class Negotiated:
    """What a terminated stream uses: the codec, its payload type, and telephone-event's."""

    codec: str
    payload_type: int
    event_pt: int | None
    remote_host: str | None
    remote_port: int
    direction: str


def _audio_index(desc: sdp.SessionDescription) -> int | None:
    for index, m in enumerate(desc.media):
        if m.kind == "audio" and m.port != 0 and "RTP/AVP" in m.proto.upper():
            return index
    return None


def _voice_formats(m: sdp.MediaDescription) -> list[tuple[int, str]]:
    """(pt, codec name) of the offered codecs we can handle, in the offer's order."""
    out = []
    for pt, (name, rate, _channels) in m.rtpmap().items():
        if name.upper() in CODECS and rate == 8000:
            out.append((pt, name.upper()))
    return out


def _event_pt(m: sdp.MediaDescription) -> int | None:
    for pt, (name, rate, _channels) in m.rtpmap().items():
        if name.upper() == TELEPHONE_EVENT and rate == 8000:
            return pt
    return None


_ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                     "inactive": "inactive"}


def answer_for_channel(offer: sdp.SessionDescription, address: str, port: int,
                       preference: tuple[str, ...]) -> tuple[sdp.SessionDescription, Negotiated]:
    """Our answer to ``offer`` for a stream the PBX terminates at ``address:port``.

    The first audio stream is accepted with the first codec of ``preference``
    the offer lists (and telephone-event when offered); other streams are
    rejected with port 0 (RFC 3264 §6). Raises ``NegotiationError``.
    """
    index = _audio_index(offer)
    if index is None:
        raise NegotiationError("the offer has no RTP audio stream")
    m = offer.media[index]
    offered = _voice_formats(m)
    by_name: dict[str, int] = {}
    for pt, name in offered:
        by_name.setdefault(name, pt)
    chosen = next((name for name in preference if name in by_name), None)
    if chosen is None:
        names = ", ".join(name for _pt, (name, _r, _c) in m.rtpmap().items()) or "none"
        raise NegotiationError(f"no common codec: offered {names}; the PBX handles {', '.join(preference)}")
    pt = by_name[chosen]
    event_pt = _event_pt(m)
    formats = [str(pt)] + ([str(event_pt)] if event_pt is not None else [])
    attrs: list[tuple[str, str | None]] = [("rtpmap", f"{pt} {chosen}/8000")]
    if chosen == "G729":
        attrs.append(("fmtp", f"{pt} annexb=no"))
    if event_pt is not None:
        attrs += [("rtpmap", f"{event_pt} telephone-event/8000"), ("fmtp", f"{event_pt} {EVENT_FMTP}")]
    direction = _ANSWER_DIRECTION[offer.media_direction(m)]
    attrs += [("ptime", "20"), (direction, None)]
    addrtype = "IP6" if ":" in address else "IP4"
    media = []
    for i, other in enumerate(offer.media):
        if i == index:
            media.append(sdp.MediaDescription("audio", port, m.proto, formats, attributes=attrs))
        else:
            media.append(sdp.MediaDescription(other.kind, 0, other.proto, other.formats[:1] or ["0"]))
    session_id = str(int.from_bytes(os.urandom(4), "big"))
    answer = sdp.SessionDescription(
        origin=sdp.Origin("wpbx", session_id, 1, "IN", addrtype, address), connection=address,
        media=media, session_name="wpbx", other_lines=[("t", "0 0")], connection_addrtype=addrtype)
    negotiated = Negotiated(chosen, pt, event_pt, offer.media_connection(m), m.port,
                            offer.media_direction(m))
    return answer, negotiated


# What the PBX offers when it speaks first (a call it places, or the 200 OK to a caller
# whose INVITE had no SDP): every voice codec it relays, decodes or transcodes, and
# telephone-event. No address yet: the relay port is written in by ``rewrite_for_relay``.
PBX_OFFER = (
    "v=0\r\no=wpbx {session} 1 IN IP4 0.0.0.0\r\ns=wpbx\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 8 0 18 101\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
)


def pbx_offer(preference: tuple[str, ...] = ()) -> sdp.SessionDescription:
    """The PBX's own offer, its codecs ordered by ``preference`` (``CodecPolicy.preference``)."""
    offer = sdp.SessionDescription.parse(PBX_OFFER.format(session=int.from_bytes(os.urandom(4), "big")))
    return order_offer(offer, preference) if preference else offer


def _free_pt(used: set[int], wanted: int) -> int:
    if wanted not in used:
        return wanted
    for pt in range(DYNAMIC_PT_FIRST, 128):
        if pt not in used:
            return pt
    raise NegotiationError("no free payload type left in the offer")


def offer_for_callee(offer: sdp.SessionDescription) -> sdp.SessionDescription:
    """The caller's offer with the codecs the PBX can transcode to appended.

    Only the first audio stream changes, and only when it lists at least one codec
    the PBX can decode; added codecs come after the caller's own (so a callee
    that shares one with the caller keeps the plain relay).
    """
    index = _audio_index(offer)
    if index is None:
        return offer
    m = offer.media[index]
    have = {name for _pt, name in _voice_formats(m)}
    if not have:
        return offer
    used = {int(f) for f in m.formats if f.isdigit()}
    formats = list(m.formats)
    attrs = list(m.attributes)
    for name in G711 + COMPRESSED:
        if name in have:
            continue
        pt = _free_pt(used, CODECS[name].static_pt)
        used.add(pt)
        event = _event_pt(m)
        position = formats.index(str(event)) if event is not None and str(event) in formats else len(formats)
        formats.insert(position, str(pt))
        attrs.append(("rtpmap", f"{pt} {name}/8000"))
        if name == "G729":
            attrs.append(("fmtp", f"{pt} annexb=no"))
    media = list(offer.media)
    media[index] = dataclasses.replace(m, formats=formats, attributes=attrs)
    return dataclasses.replace(offer, media=media)


@dataclass(frozen=True)
class BridgePlan:
    """How to process a relayed stream: side a (caller) and side b (callee) codecs and
    telephone-event payload types (``None``: that side has none)."""

    a_codec: str
    a_pt: int
    a_event_pt: int | None
    b_codec: str
    b_pt: int
    b_event_pt: int | None

    @property
    def transcodes(self) -> bool:
        """The two sides use different codecs (else only DTMF is translated)."""
        return self.a_codec != self.b_codec

    @property
    def translates_dtmf(self) -> bool:
        """Only one side has telephone-event: RFC 4733 events <-> in-band tones."""
        return (self.a_event_pt is None) != (self.b_event_pt is None)


def plan_bridge(offer_a: sdp.SessionDescription, answer_b: sdp.SessionDescription) -> BridgePlan | None:
    """``None`` when the callee answered with a codec the caller offered and both or
    neither have telephone-event (plain relay); else the plan to transcode and/or to
    translate DTMF. Raises ``NegotiationError`` when no codec works for both."""
    ia, ib = _audio_index(offer_a), _audio_index(answer_b)
    if ia is None or ib is None:
        return None
    ma, mb = offer_a.media[ia], answer_b.media[ib]
    b_voice = _voice_formats(mb)
    b_map = mb.rtpmap()
    first_b = next((pt for pt in b_map if b_map[pt][0].upper() != TELEPHONE_EVENT), None)
    if first_b is None:
        return None
    b_name = b_map[first_b][0].upper()
    if b_name not in CODECS:
        return None
    a_voice = _voice_formats(ma)
    a_event, b_event = _event_pt(ma), _event_pt(mb)
    b_pt = next(pt for pt, name in b_voice if name == b_name)
    shared = next((pt for pt, name in a_voice if name == b_name), None)
    if shared is not None:
        if (a_event is None) == (b_event is None):
            return None
        return BridgePlan(b_name, shared, a_event, b_name, b_pt, b_event)
    if not a_voice:
        raise NegotiationError(f"the callee chose {b_name} and the caller offers no codec the PBX can transcode")
    a_pt, a_name = a_voice[0]
    return BridgePlan(a_name, a_pt, a_event, b_name, b_pt, b_event)


def answer_for_caller(answer_b: sdp.SessionDescription, plan: BridgePlan) -> sdp.SessionDescription:
    """The callee's answer rewritten to the caller's codec (before ``rewrite_for_relay``);
    telephone-event is accepted whenever the caller offered it (the PBX translates it
    to in-band tones for a callee without it)."""
    index = _audio_index(answer_b)
    if index is None:
        return answer_b
    m = answer_b.media[index]
    formats = [str(plan.a_pt)]
    attrs: list[tuple[str, str | None]] = [("rtpmap", f"{plan.a_pt} {plan.a_codec}/8000")]
    if plan.a_codec == "G729":
        attrs.append(("fmtp", f"{plan.a_pt} annexb=no"))
    if plan.a_event_pt is not None:
        formats.append(str(plan.a_event_pt))
        attrs += [("rtpmap", f"{plan.a_event_pt} telephone-event/8000"),
                  ("fmtp", f"{plan.a_event_pt} {EVENT_FMTP}")]
    attrs += [(n, v) for n, v in m.attributes if n not in ("rtpmap", "fmtp")]
    media = list(answer_b.media)
    media[index] = dataclasses.replace(m, formats=formats, attributes=attrs)
    return dataclasses.replace(answer_b, media=media)


def order_offer(offer: sdp.SessionDescription, preference: tuple[str, ...]) -> sdp.SessionDescription:
    """``offer`` with the voice codecs of its first audio stream reordered by ``preference``
    (codecs the PBX does not know keep their place after them; telephone-event last)."""
    index = _audio_index(offer)
    if index is None:
        return offer
    m = offer.media[index]
    names = {str(pt): name for pt, name in _voice_formats(m)}
    rank = {name: i for i, name in enumerate(preference)}
    known = sorted((f for f in m.formats if f in names), key=lambda f: rank.get(names[f], len(rank)))
    event = _event_pt(m)
    others = [f for f in m.formats if f not in names and f != str(event)]
    formats = known + others + ([str(event)] if event is not None and str(event) in m.formats else [])
    media = list(offer.media)
    media[index] = dataclasses.replace(m, formats=formats)
    return dataclasses.replace(offer, media=media)


def narrow_offer(offer: sdp.SessionDescription, negotiated: Negotiated) -> sdp.SessionDescription:
    """The offer restricted to what was negotiated with its sender (codec + telephone-event):
    what the caller really sends once the PBX has answered it itself."""
    index = _audio_index(offer)
    if index is None:
        return offer
    keep = [str(negotiated.payload_type)] + ([str(negotiated.event_pt)] if negotiated.event_pt is not None else [])
    media = list(offer.media)
    media[index] = offer.media[index].with_formats(keep)
    return dataclasses.replace(offer, media=media)


def first_voice(desc: sdp.SessionDescription) -> tuple[str, int, int | None] | None:
    """(codec, payload type, telephone-event payload type) of the first audio stream's
    first codec the PBX knows: what a two-party answer settled on."""
    index = _audio_index(desc)
    if index is None:
        return None
    m = desc.media[index]
    voice = _voice_formats(m)
    if not voice:
        return None
    pt, name = voice[0]
    return name, pt, _event_pt(m)
