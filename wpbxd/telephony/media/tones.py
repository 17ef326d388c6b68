"""Call-progress tones per country tone zone (ITU-T E.180 Supplement 2 values).

Responsible for: the cadence of the dial, ringback, busy and congestion tones of
each zone the admin can choose (setting ``pbx.tone_zone``, seed "Langue &
région": *Tonalité par défaut*), and rendering one whole cadence period as
16-bit 8 kHz PCM that a media channel loops.

Rule: pure data and pure functions; rendering is cached per (zone, tone).
"""

from dataclasses import dataclass
from functools import cache

from wpbxd.telephony.media.dtmf import SAMPLE_RATE, tone_pcm

TONE_AMPLITUDE = 5000           # peak per frequency (about -13 dBm0 for one sine)
TONE_NAMES = ("dial", "ringback", "busy", "congestion")


@dataclass(frozen=True)
class Segment:
    freqs: tuple[float, ...]    # Hz; empty for silence
    ms: int                     # duration in milliseconds


def _cadence(freqs: tuple[float, ...], *on_off_ms: int) -> tuple[Segment, ...]:
    """Alternating on/off durations of the same frequencies; a single value is continuous."""
    return tuple(Segment(freqs if i % 2 == 0 else (), ms) for i, ms in enumerate(on_off_ms))


ZONES: dict[str, dict[str, tuple[Segment, ...]]] = {
    "fr": {"dial": _cadence((440.0,), 1000), "ringback": _cadence((440.0,), 1500, 3500),
           "busy": _cadence((440.0,), 500, 500), "congestion": _cadence((440.0,), 250, 250)},
    "us": {"dial": _cadence((350.0, 440.0), 1000), "ringback": _cadence((440.0, 480.0), 2000, 4000),
           "busy": _cadence((480.0, 620.0), 500, 500), "congestion": _cadence((480.0, 620.0), 250, 250)},
    "uk": {"dial": _cadence((350.0, 440.0), 1000),
           "ringback": _cadence((400.0, 450.0), 400, 200, 400, 2000),
           "busy": _cadence((400.0,), 375, 375),
           "congestion": _cadence((400.0,), 400, 350, 225, 525)},
    "de": {"dial": _cadence((425.0,), 1000), "ringback": _cadence((425.0,), 1000, 4000),
           "busy": _cadence((425.0,), 480, 480), "congestion": _cadence((425.0,), 240, 240)},
    "it": {"dial": _cadence((425.0,), 200, 200, 600, 1000), "ringback": _cadence((425.0,), 1000, 4000),
           "busy": _cadence((425.0,), 500, 500), "congestion": _cadence((425.0,), 200, 200)},
    "es": {"dial": _cadence((425.0,), 1000), "ringback": _cadence((425.0,), 1500, 3000),
           "busy": _cadence((425.0,), 200, 200), "congestion": _cadence((425.0,), 200, 200, 200, 200, 200, 600)},
    "nl": {"dial": _cadence((425.0,), 1000), "ringback": _cadence((425.0,), 1000, 4000),
           "busy": _cadence((425.0,), 500, 500), "congestion": _cadence((425.0,), 250, 250)},
}


class UnknownTone(ValueError):
    """A tone zone or tone name that does not exist."""


def cadence(zone: str, tone: str) -> tuple[Segment, ...]:
    if zone not in ZONES:
        raise UnknownTone(f"unknown tone zone {zone!r} (zones: {', '.join(sorted(ZONES))})")
    if tone not in TONE_NAMES:
        raise UnknownTone(f"unknown tone {tone!r} (tones: {', '.join(TONE_NAMES)})")
    return ZONES[zone][tone]


def check_zone(value: object) -> str:
    """Validator of the ``pbx.tone_zone`` setting."""
    from wpbxd.errors import ValidationError
    zone = str(value or "").strip().lower()
    if zone not in ZONES:
        raise ValidationError(f"unknown tone zone {zone!r} (zones: {', '.join(sorted(ZONES))})")
    return zone


@cache
def render(zone: str, tone: str) -> bytes:
    """One cadence period of ``tone`` in ``zone`` as s16le 8 kHz PCM (loop it)."""
    out = bytearray()
    for segment in cadence(zone, tone):
        samples = segment.ms * SAMPLE_RATE // 1000
        out += tone_pcm(segment.freqs, samples, TONE_AMPLITUDE) if segment.freqs else bytes(2 * samples)
    return bytes(out)
