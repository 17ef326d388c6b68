"""Transcoding of a relayed RTP stream whose two legs share no codec (PCMU/PCMA <-> G.729).

Responsible for: ``PacketTranslator``, the callable the relay calls per RTP
packet of one direction (``RelayStream.set_transcoders``): voice payloads are
decoded to linear PCM and re-encoded in the other leg's codec, telephone-event
packets (RFC 4733) get the other leg's payload type, anything else (comfort
noise, unknown payload types) is dropped. Sequence number, timestamp, SSRC and
marker are kept: every codec here runs an 8 kHz RTP clock, so the receiver sees
the sender's own timing.

``only_from`` wraps a translator (or none) so that only one SSRC passes: the
music on hold played into one side of a stream, not the holder's own packets.

Rule: no sockets and no clock; it keeps only codec state. A packet it cannot
translate returns ``None`` (the relay counts it), it never raises.
"""

from collections.abc import Callable

from wpbxd.telephony.media.codec import Codec
from wpbxd.telephony.media.negotiation import BridgePlan

RTP_HEADER = 12
G729_FRAME_SAMPLES = 80


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
        if pt == self.src_pt:
            try:
                pcm = self.decoder.decode(bytes(packet[offset:end]))
                if self.g729_out and len(pcm) % (2 * G729_FRAME_SAMPLES):
                    self.dropped += 1
                    return None
                payload = self.encoder.encode(pcm)
            except ValueError:
                self.dropped += 1
                return None
            self.translated += 1
            return bytes((0x80, marker | self.dst_pt)) + rest + payload
        if pt == self.src_event_pt and self.dst_event_pt is not None:
            self.translated += 1
            return bytes((0x80, marker | self.dst_event_pt)) + rest + bytes(packet[offset:end])
        self.dropped += 1
        return None

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
