"""Media processing of a relayed RTP stream whose two legs disagree: they share no codec
(PCMU/PCMA <-> G.729), or only one of them negotiated telephone-event (RFC 4733).

Responsible for: ``PacketTranslator``, the callable the relay calls per RTP
packet of one direction (``RelayStream.set_transcoders``): voice payloads are
decoded to linear PCM and re-encoded in the other leg's codec (passed as they
are when both legs use the same codec), telephone-event packets (RFC 4733) get
the other leg's payload type, anything else (comfort noise, unknown payload
types) is dropped. Sequence number, timestamp, SSRC and marker are kept: every
codec here runs an 8 kHz RTP clock, so the receiver sees the sender's own timing.

DTMF between a leg with telephone-event and a leg without
(``dtmf_interworking.py``): events from the first are played to the second as
in-band tone pairs (one voice packet per event packet that advances the key's
duration; retransmitted end packets are absorbed and the sequence numbers after
them shifted so the receiver sees no gap), and tones the second sends in-band
are detected and go to the first as events that replace the voice packets
one for one (start with the marker, updates, end three times, one timestamp).

``only_from`` wraps a translator (or none) so that only one SSRC passes: the
music on hold played into one side of a stream, not the holder's own packets.

Rule: no sockets and no clock; it keeps only codec state. A packet it cannot
translate returns ``None`` (the relay counts it), it never raises.
"""

from collections.abc import Callable

from wpbxd.telephony.media.codec import Codec
from wpbxd.telephony.media.dtmf_interworking import EventsToTones, TonesToEvents
from wpbxd.telephony.media.negotiation import BridgePlan

RTP_HEADER = 12
G729_FRAME_SAMPLES = 80
SEQ_MOD = 1 << 16


class PacketTranslator:
    """One direction: packets in ``src`` codec/payload types out as ``dst``."""

    def __init__(self, src_codec: str, src_pt: int, src_event_pt: int | None,
                 dst_codec: str, dst_pt: int, dst_event_pt: int | None) -> None:
        self.decoder = Codec(src_codec)
        self.encoder = Codec(dst_codec)
        self.src_pt = src_pt
        self.dst_pt = dst_pt
        self.src_event_pt = src_event_pt
        self.dst_event_pt = dst_event_pt
        self.g729_out = dst_codec.upper() == "G729"
        self.same_codec = src_codec.upper() == dst_codec.upper()
        # DTMF interworking when only one leg negotiated telephone-event
        self.events_to_tones = EventsToTones() if src_event_pt is not None and dst_event_pt is None else None
        self.tones_to_events = TonesToEvents() if src_event_pt is None and dst_event_pt is not None else None
        self.seq_shift = 0          # event packets absorbed so far: later sequence numbers close the gap
        self.translated = 0
        self.dropped = 0

    def __call__(self, packet: memoryview) -> bytes | None:
        n = len(packet)
        if n < RTP_HEADER or packet[0] >> 6 != 2:
            self.dropped += 1
            return None
        first, second = packet[0], packet[1]
        offset = RTP_HEADER + 4 * (first & 0x0F)
        end = n
        if first & 0x10:
            if n < offset + 4:
                self.dropped += 1
                return None
            offset += 4 + 4 * int.from_bytes(packet[offset + 2:offset + 4], "big")
        if first & 0x20:
            end -= packet[n - 1]
        if offset >= end:
            self.dropped += 1
            return None
        pt = second & 0x7F
        marker = second & 0x80
        rest = bytes(packet[2:RTP_HEADER])  # sequence, timestamp, SSRC: kept (no CSRC, no extension)
        if self.seq_shift:
            seq = (int.from_bytes(rest[:2], "big") - self.seq_shift) % SEQ_MOD
            rest = seq.to_bytes(2, "big") + rest[2:]
        if pt == self.src_pt:
            payload = bytes(packet[offset:end])
            if self.same_codec and self.tones_to_events is None:
                self.translated += 1
                return bytes((0x80, marker | self.dst_pt)) + rest + payload
            try:
                pcm = self.decoder.decode(payload)
                if self.tones_to_events is not None:
                    event = self.tones_to_events.feed(int.from_bytes(rest[2:6], "big"), pcm)
                    if event is not None:
                        self.translated += 1
                        return (bytes((0x80, (0x80 if event.marker else 0) | self.dst_event_pt)) + rest[:2]
                                + event.timestamp.to_bytes(4, "big") + rest[6:] + event.payload)
                if not self.same_codec:
                    if self.g729_out and len(pcm) % (2 * G729_FRAME_SAMPLES):
                        self.dropped += 1
                        return None
                    payload = self.encoder.encode(pcm)
            except ValueError:
                self.dropped += 1
                return None
            self.translated += 1
            return bytes((0x80, marker | self.dst_pt)) + rest + payload
        if pt == self.src_event_pt:
            if self.dst_event_pt is not None:
                self.translated += 1
                return bytes((0x80, marker | self.dst_event_pt)) + rest + bytes(packet[offset:end])
            if self.events_to_tones is not None:
                return self._tone_for(bytes(packet[offset:end]), rest)
        self.dropped += 1
        return None

    def _tone_for(self, event: bytes, rest: bytes) -> bytes | None:
        """The voice packet playing what the event packet adds to its key press (``rest``:
        sequence, timestamp, SSRC of the event packet), or ``None`` when it adds nothing."""
        frame = self.events_to_tones.feed(int.from_bytes(rest[2:6], "big"), event)
        if frame is None:
            self.seq_shift += 1
            self.dropped += 1
            return None
        self.translated += 1
        return (bytes((0x80, self.dst_pt)) + rest[:2] + frame.timestamp.to_bytes(4, "big") + rest[6:]
                + self.encoder.encode(frame.pcm))

    def close(self) -> None:
        self.decoder.close()
        self.encoder.close()


def translators(plan: BridgePlan) -> tuple[PacketTranslator, PacketTranslator]:
    """(a_to_b, b_to_a) for ``RelayStream.set_transcoders``."""
    a_to_b = PacketTranslator(plan.a_codec, plan.a_pt, plan.a_event_pt,
                              plan.b_codec, plan.b_pt, plan.b_event_pt)
    b_to_a = PacketTranslator(plan.b_codec, plan.b_pt, plan.b_event_pt,
                              plan.a_codec, plan.a_pt, plan.a_event_pt)
    return a_to_b, b_to_a


def only_from(ssrc: int, inner: Callable[[memoryview], bytes | None] | None = None
              ) -> Callable[[memoryview], bytes | None]:
    """A translator passing only RTP packets of ``ssrc`` (then through ``inner`` when given):
    while the PBX plays music into one side of a relayed stream, the held-by phone's
    own packets (some phones keep sending on hold) must not reach the other party."""
    want = ssrc.to_bytes(4, "big")

    def translate(packet: memoryview) -> bytes | None:
        if len(packet) < RTP_HEADER or packet[8:12] != want:
            return None
        return inner(packet) if inner is not None else bytes(packet)

    return translate
