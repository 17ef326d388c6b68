"""Digits and tones: RFC 4733 telephone-events, in-band DTMF by Goertzel, fax CNG.

Responsible for: the 4-byte telephone-event payload (RFC 4733 §2.3) both ways,
turning a stream of event packets into one digit per key press
(``EventReceiver``: retransmitted end packets and continuation packets of the
same event count once), the packets that send one digit, and two detectors on
16-bit 8 kHz linear PCM: ``DtmfDetector`` (ITU-T Q.24 frequency pairs) and
``CngDetector`` (the fax calling tone of ITU-T T.30: 1100 Hz, 0.5 s on, 3 s off).

Rule: sans-IO. PCM or payload bytes in, digits or booleans out; no clock (the
detectors count samples), no socket.
"""

import math
import struct
from array import array
from dataclasses import dataclass

SAMPLE_RATE = 8000                      # Hz
EVENT_BYTES = 4                         # RFC 4733 §2.3
EVENTS = "0123456789*#ABCD"             # RFC 4733 §3.2 event codes 0-15
END_BIT = 0x80
DEFAULT_VOLUME = 10                     # -dBm0, RFC 4733 §2.3.4
DIGIT_SAMPLES = 800                     # 100 ms of tone per sent digit
END_REPEATS = 3                         # RFC 4733 §2.5.1.4: the end packet is sent three times
DBM0_PEAK = 22706                       # peak of a 0 dBm0 sine in 16-bit linear (G.711, 3.14 dBm0 overload)
_EVENT = struct.Struct("!BBH")

# ITU-T Q.23: DTMF rows (low group) and columns (high group), Hz.
ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
DTMF_BLOCK = 205                        # samples per Goertzel block (~25.6 ms, ~39 Hz bins)
DTMF_MIN_ENERGY = 4.0e5                 # block power (sum of squares / N) under which it is silence
DTMF_TONE_SHARE = 0.6                   # row + column power must hold this share of the block
DTMF_TWIST = 6.3                        # Q.24: up to ~8 dB twist (power ratio) either way
DTMF_RELATIVE = 6.0                     # the chosen row/column beats the others by this power ratio
DTMF_CONFIRM_BLOCKS = 2                 # blocks in a row that must agree (~50 ms, Q.24 minimum 40 ms)

CNG_FREQ = 1100.0                       # Hz, T.30 calling tone
CNG_BLOCK = 160                         # samples (20 ms)
CNG_TONE_SHARE = 0.7                    # share of the block power at 1100 Hz
CNG_MIN_ENERGY = 2.0e4
CNG_MIN_ON_BLOCKS = 20                  # 400 ms of tone (T.30: 0.5 s +- 15 %)
CNG_MAX_MISSES = 2                      # blocks without the tone (a lost packet) a run survives


class DtmfError(ValueError):
    """A telephone-event payload or digit that cannot be used."""


@dataclass(frozen=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int                       # timestamp units (samples)

    @property
    def digit(self) -> str | None:
        return EVENTS[self.event] if self.event < len(EVENTS) else None


def parse_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < EVENT_BYTES:
        raise DtmfError(f"telephone-event payload of {len(payload)} bytes (needs {EVENT_BYTES})")
    event, flags, duration = _EVENT.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & END_BIT), flags & 0x3F, duration)


def build_event(digit: str, duration: int, end: bool, volume: int = DEFAULT_VOLUME) -> bytes:
    if len(digit) != 1 or digit.upper() not in EVENTS:
        raise DtmfError(f"{digit!r} is not a DTMF digit (0-9, *, #, A-D)")
    return _EVENT.pack(EVENTS.index(digit.upper()), (END_BIT if end else 0) | (volume & 0x3F),
                       min(duration, 0xFFFF))


def digit_payloads(digit: str, samples: int = DIGIT_SAMPLES, step: int = 160) -> list[tuple[bytes, bool]]:
    """(payload, marker) of every packet that sends one digit of ``samples`` duration:
    updates every ``step`` samples, the first with the marker, then the end three times."""
    out: list[tuple[bytes, bool]] = []
    duration = step
    while duration < samples:
        out.append((build_event(digit, duration, False), not out))
        duration += step
    end = build_event(digit, samples, True)
    out.append((end, not out))
    out += [(end, False)] * (END_REPEATS - 1)
    return out


class EventReceiver:
    """One digit per key press from telephone-event packets (RFC 4733 §2.5.2).

    An event is identified by its RTP timestamp; every packet of it (start,
    updates, the three end packets) reports the digit once, on the first one seen.
    """

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None

    def feed(self, timestamp: int, payload: bytes) -> str | None:
        try:
            event = parse_event(payload)
        except DtmfError:
            return None
        key = (timestamp, event.event)
        if key == self._last:
            return None
        self._last = key
        return event.digit


def _goertzel_coefficients(freqs: tuple[float, ...], n: int) -> list[float]:
    return [2.0 * math.cos(2.0 * math.pi * round(n * f / SAMPLE_RATE) / n) for f in freqs]


def _powers(samples, coeffs: list[float]) -> list[float]:
    """Goertzel power of each coefficient's bin over ``samples`` (N = len)."""
    out = []
    for c in coeffs:
        s1 = s2 = 0.0
        for x in samples:
            s1, s2 = x + c * s1 - s2, s1
        out.append(s1 * s1 + s2 * s2 - c * s1 * s2)
    return out


def _samples(pcm: bytes) -> array:
    if len(pcm) % 2:
        raise ValueError(f"PCM must be whole 16-bit samples ({len(pcm)} bytes)")
    data = array("h")
    data.frombytes(pcm)
    return data


class DtmfDetector:
    """In-band DTMF (used when the peer sends no RFC 4733 events).

    ``feed`` takes any amount of PCM and returns the digits that started in it:
    a key is reported once when ``DTMF_CONFIRM_BLOCKS`` blocks in a row agree,
    and again only after a block without it.
    """

    def __init__(self) -> None:
        self._pending = array("h")
        self._coeffs = _goertzel_coefficients(ROWS + COLS, DTMF_BLOCK)
        self._candidate: str | None = None
        self._count = 0
        self._reported: str | None = None

    @property
    def held(self) -> str | None:
        """The key reported last while it is still sounding (``None`` once a block without
        it came): how long a key lasts, for turning it into RFC 4733 events."""
        return self._reported

    def feed(self, pcm: bytes) -> list[str]:
        self._pending.extend(_samples(pcm))
        digits: list[str] = []
        while len(self._pending) >= DTMF_BLOCK:
            block = self._pending[:DTMF_BLOCK]
            del self._pending[:DTMF_BLOCK]
            key = self._classify(block)
            if key is not None and key == self._candidate:
                self._count += 1
            else:
                self._candidate, self._count = key, 1
            if key is None:
                self._reported = None
            elif self._count >= DTMF_CONFIRM_BLOCKS and self._reported != key:
                self._reported = key
                digits.append(key)
        return digits

    def _classify(self, block: array) -> str | None:
        total = sum(x * x for x in block) / DTMF_BLOCK
        if total < DTMF_MIN_ENERGY:
            return None
        powers = _powers(block, self._coeffs)
        rows, cols = powers[:4], powers[4:]
        r = max(range(4), key=rows.__getitem__)
        c = max(range(4), key=cols.__getitem__)
        row, col = rows[r], cols[c]
        # A pure sine of amplitude A gives Goertzel power (A*N/2)**2; the block's mean
        # power is A**2/2, so a tone's share of the block is power * 2 / (N**2 * mean).
        share = (row + col) * 2.0 / (DTMF_BLOCK * DTMF_BLOCK * total)
        if share < DTMF_TONE_SHARE:
            return None
        if row > col * DTMF_TWIST or col > row * DTMF_TWIST:
            return None
        if any(p * DTMF_RELATIVE > row for i, p in enumerate(rows) if i != r):
            return None
        if any(p * DTMF_RELATIVE > col for i, p in enumerate(cols) if i != c):
            return None
        return KEYPAD[r][c]


class CngDetector:
    """The fax calling tone: ``feed`` returns True once 1100 Hz has lasted ~400 ms."""

    def __init__(self) -> None:
        self._pending = array("h")
        self._coeff = _goertzel_coefficients((CNG_FREQ,), CNG_BLOCK)
        self._run = 0
        self._misses = 0
        self.detected = False

    def feed(self, pcm: bytes) -> bool:
        self._pending.extend(_samples(pcm))
        while len(self._pending) >= CNG_BLOCK and not self.detected:
            block = self._pending[:CNG_BLOCK]
            del self._pending[:CNG_BLOCK]
            total = sum(x * x for x in block) / CNG_BLOCK
            if total < CNG_MIN_ENERGY:
                self._misses += 1
                if self._misses > CNG_MAX_MISSES:
                    self._run = 0
                continue
            power = _powers(block, self._coeff)[0]
            share = power * 2.0 / (CNG_BLOCK * CNG_BLOCK * total)
            if share >= CNG_TONE_SHARE:
                self._run += 1
                self._misses = 0
            else:
                self._misses += 1
                if self._misses > CNG_MAX_MISSES:
                    self._run = 0
            if self._run >= CNG_MIN_ON_BLOCKS:
                self.detected = True
        if self.detected:
            self._pending = array("h")
        return self.detected


def tone_pcm(freqs: tuple[float, ...], samples: int, amplitude: int = 8000, start: int = 0) -> bytes:
    """A sum of sines (each ``amplitude`` peak) as s16le PCM, from sample ``start``."""
    out = array("h", [0]) * samples
    for i in range(samples):
        t = (start + i) / SAMPLE_RATE
        value = sum(math.sin(2.0 * math.pi * f * t) for f in freqs) * amplitude
        out[i] = max(-32768, min(32767, int(value)))
    return out.tobytes()


def dtmf_pcm(digit: str, samples: int = DIGIT_SAMPLES, amplitude: int = 6000, start: int = 0) -> bytes:
    """The Q.23 tone pair of ``digit`` (for in-band sending and tests), from sample
    ``start`` of the tone (so that pieces of one key press join without a click)."""
    for r, row in enumerate(KEYPAD):
        c = row.find(digit.upper())
        if c >= 0:
            return tone_pcm((ROWS[r], COLS[c]), samples, amplitude, start)
    raise DtmfError(f"{digit!r} is not a DTMF digit (0-9, *, #, A-D)")


def volume_amplitude(volume: int) -> int:
    """Peak amplitude (16-bit linear) of one sine at ``-volume`` dBm0 (RFC 4733 §2.3.4
    volume field); each tone of a pair gets it, so the pair peaks at twice this."""
    return round(DBM0_PEAK * 10.0 ** (-min(max(volume, 0), 63) / 20.0))
