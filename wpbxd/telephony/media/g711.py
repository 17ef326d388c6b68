"""G.711 (ITU-T G.711, 1988): A-law and µ-law companding of 16-bit linear PCM.

Responsible for: converting 16-bit signed little-endian linear PCM to and from
8-bit A-law (PCMA, RTP payload type 8) and µ-law (PCMU, payload type 0), sample by
sample and for whole frames, and converting A-law <-> µ-law through linear.

Rule 1: pure functions over bytes, no I/O and no state. Every table is computed once
at import from the G.711 segment rules below, so a frame is a few C-level passes
(``bytes.translate`` and slicing to decode, one ``itemgetter`` over a 64 Ki-entry
table to encode) and never a Python-level loop per sample.
Rule 2: input that is not whole 16-bit samples raises ``ValueError``; out-of-range
samples cannot occur (16-bit input is clipped by the law itself).

The laws, in 16-bit units (G.711 works on 13-bit A-law / 14-bit µ-law magnitudes,
i.e. the 16-bit sample shifted right by 3 / 2):
  A-law: magnitude m = |x| >> 3 (0..4095). Segment 0 is 0..31, then segment s
  (1..7) is 2**(s+4) .. 2**(s+5)-1; 16 equal intervals per segment. Code =
  sign | s << 4 | interval, then the even bits are inverted (XOR 0x55); positive
  samples have the sign bit set. Decoding gives the interval's midpoint.
  µ-law: magnitude m = |x| >> 2 (0..8158 after clipping), biased b = m + 33.
  Segment s (0..7) is 2**(s+5) .. 2**(s+6)-1 of b; interval = (b >> (s+1)) & 15.
  Code = sign | s << 4 | interval with the sign bit set for negative samples, then
  all bits are inverted (so on the line silence is 0xFF). Decoding gives the
  interval's midpoint minus the bias.
"""

import sys
from array import array
from operator import itemgetter

ALAW_EVEN_BITS = 0x55       # G.711 A-law: even bits inverted on the line
ALAW_SIGN = 0x80            # set for positive samples (before the inversion)
ULAW_SIGN = 0x80            # set for negative samples (before the inversion)
ULAW_BIAS = 33              # in 14-bit units
ULAW_CLIP = 8159            # 14-bit magnitude clipped so that magnitude + bias fits 8192+
SEGMENTS = 8
INTERVALS = 16
SAMPLE_BYTES = 2            # 16-bit linear PCM
_LITTLE_ENDIAN = sys.byteorder == "little"


def alaw_from_linear(sample: int) -> int:
    """One 16-bit signed sample to its A-law code."""
    if sample >= 0:
        sign, magnitude = ALAW_SIGN, sample >> 3
    else:
        sign, magnitude = 0, (-sample - 1) >> 3  # one's complement keeps the law symmetric
    magnitude = min(magnitude, 4095)
    if magnitude < 32:
        code = magnitude >> 1  # segment 0: step 2
    else:
        segment = magnitude.bit_length() - 5
        code = segment << 4 | (magnitude >> segment) & 0x0F
    return (sign | code) ^ ALAW_EVEN_BITS


def alaw_to_linear(code: int) -> int:
    """One A-law code to its 16-bit signed sample (the interval's midpoint)."""
    code ^= ALAW_EVEN_BITS
    segment = (code >> 4) & 0x07
    interval = code & 0x0F
    if segment == 0:
        magnitude = (interval << 1) + 1
    else:
        magnitude = ((interval << 1) + 33) << (segment - 1)
    value = magnitude << 3
    return value if code & ALAW_SIGN else -value


def ulaw_from_linear(sample: int) -> int:
    """One 16-bit signed sample to its µ-law code."""
    value = sample >> 2
    if value < 0:
        sign, magnitude = ULAW_SIGN, -value
    else:
        sign, magnitude = 0, value
    biased = min(magnitude, ULAW_CLIP) + ULAW_BIAS
    segment = biased.bit_length() - 6
    if segment >= SEGMENTS:  # only the clipped maximum: the top code of segment 7
        code = 0x7F
    else:
        code = segment << 4 | (biased >> (segment + 1)) & 0x0F
    return (sign | code) ^ 0xFF


def ulaw_to_linear(code: int) -> int:
    """One µ-law code to its 16-bit signed sample."""
    code ^= 0xFF
    segment = (code >> 4) & 0x07
    interval = code & 0x0F
    value = ((((interval << 1) + ULAW_BIAS) << segment) - ULAW_BIAS) << 2
    return -value if code & ULAW_SIGN else value


def _decode_tables(law) -> tuple[bytes, bytes]:
    """Two 256-byte translate tables: the low and the high byte of each code's sample."""
    samples = [law(code) & 0xFFFF for code in range(256)]
    return bytes(s & 0xFF for s in samples), bytes(s >> 8 for s in samples)


def _encode_table(law) -> bytes:
    """65536 codes indexed by the sample as an unsigned 16-bit number."""
    return bytes(law(u - 0x10000 if u & 0x8000 else u) for u in range(0x10000))


_ALAW_LOW, _ALAW_HIGH = _decode_tables(alaw_to_linear)
_ULAW_LOW, _ULAW_HIGH = _decode_tables(ulaw_to_linear)
_ALAW_ENCODE = _encode_table(alaw_from_linear)
_ULAW_ENCODE = _encode_table(ulaw_from_linear)
ALAW_TO_ULAW = bytes(ulaw_from_linear(alaw_to_linear(c)) for c in range(256))
ULAW_TO_ALAW = bytes(alaw_from_linear(ulaw_to_linear(c)) for c in range(256))


def _decode(data: bytes, low: bytes, high: bytes) -> bytes:
    out = bytearray(len(data) * SAMPLE_BYTES)
    out[0::2] = data.translate(low)
    out[1::2] = data.translate(high)
    return bytes(out)


def _encode(pcm: bytes, table: bytes) -> bytes:
    if len(pcm) % SAMPLE_BYTES:
        raise ValueError(f"linear PCM must be whole 16-bit samples; got {len(pcm)} bytes")
    if _LITTLE_ENDIAN:
        samples = memoryview(pcm).cast("B").cast("H")
    else:  # the input is little-endian whatever the host is
        samples = array("H")
        samples.frombytes(bytes(pcm))
        samples.byteswap()
    if len(samples) < 2:  # itemgetter of one index returns a bare item, not a tuple
        return bytes(table[s] for s in samples)
    return bytes(itemgetter(*samples)(table))


def alaw_decode(data: bytes) -> bytes:
    """A-law codes to 16-bit signed little-endian PCM (two bytes per code)."""
    return _decode(bytes(data), _ALAW_LOW, _ALAW_HIGH)


def ulaw_decode(data: bytes) -> bytes:
    """µ-law codes to 16-bit signed little-endian PCM (two bytes per code)."""
    return _decode(bytes(data), _ULAW_LOW, _ULAW_HIGH)


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit signed little-endian PCM to A-law codes; raises ValueError on odd length."""
    return _encode(pcm, _ALAW_ENCODE)


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit signed little-endian PCM to µ-law codes; raises ValueError on odd length."""
    return _encode(pcm, _ULAW_ENCODE)


def alaw_to_ulaw(data: bytes) -> bytes:
    """A-law codes to µ-law codes (through linear; one translate pass)."""
    return bytes(data).translate(ALAW_TO_ULAW)


def ulaw_to_alaw(data: bytes) -> bytes:
    """µ-law codes to A-law codes (through linear; one translate pass)."""
    return bytes(data).translate(ULAW_TO_ALAW)
