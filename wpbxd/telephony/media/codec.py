"""Voice codecs the PBX can decode and encode itself: PCMU, PCMA (G.711) and G.729.

Responsible for: one object per direction of one channel that turns RTP
payloads into 16-bit 8 kHz linear PCM (``decode``, ``conceal`` for a lost packet)
and PCM into payloads (``encode``), over ``g711`` and the native ``g729``.

Rule: no I/O, no RTP headers (``rtp.py`` does those); state only where the codec
has it (G.729). An unknown codec name raises ``UnsupportedCodec``.
"""

from dataclasses import dataclass

from wpbxd.telephony.media import g711

SAMPLE_RATE = 8000          # Hz, every codec here
PTIME_MS = 20               # milliseconds per packet we send
FRAME_SAMPLES = SAMPLE_RATE * PTIME_MS // 1000
FRAME_PCM_BYTES = 2 * FRAME_SAMPLES
G729_FRAME_SAMPLES = 80


class UnsupportedCodec(ValueError):
    """A codec the PBX cannot decode or encode."""


@dataclass(frozen=True)
class CodecInfo:
    name: str                # as in a=rtpmap, upper case
    static_pt: int           # RFC 3551 payload type


CODECS: dict[str, CodecInfo] = {
    "PCMU": CodecInfo("PCMU", 0),
    "PCMA": CodecInfo("PCMA", 8),
    "G729": CodecInfo("G729", 18),
}


class Codec:
    """Encoder and decoder state of one channel for one codec."""

    def __init__(self, name: str) -> None:
        name = name.upper()
        if name not in CODECS:
            raise UnsupportedCodec(f"codec {name!r} is not supported (supported: {', '.join(CODECS)})")
        self.name = name
        self.payload_type = CODECS[name].static_pt
        self._encoder = self._decoder = None
        if name == "G729":
            from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder
            self._encoder = G729Encoder()
            self._decoder = G729Decoder()

    def decode(self, payload: bytes) -> bytes:
        """PCM of one RTP payload; raises ``ValueError`` on a payload of impossible size."""
        if self.name == "PCMU":
            return g711.ulaw_decode(payload)
        if self.name == "PCMA":
            return g711.alaw_decode(payload)
        return self._decoder.decode_payload(payload)

    def conceal(self, samples: int = FRAME_SAMPLES) -> bytes:
        """PCM standing in for a lost packet: G.729 frame erasure, silence for G.711."""
        if self.name == "G729":
            return b"".join(self._decoder.decode_lost() for _ in range(samples // G729_FRAME_SAMPLES))
        return bytes(2 * samples)

    def encode(self, pcm: bytes) -> bytes:
        """One payload from PCM (whole 10 ms frames for G.729)."""
        if self.name == "PCMU":
            return g711.ulaw_encode(pcm)
        if self.name == "PCMA":
            return g711.alaw_encode(pcm)
        return self._encoder.encode(pcm)

    def close(self) -> None:
        for part in (self._encoder, self._decoder):
            if part is not None:
                part.close()
