"""RFC 4733 telephone-events <-> in-band DTMF, for a relayed call whose legs disagree.

When one leg of a bridged call negotiated telephone-event and the other did not,
the transcoding translator (``transcode.PacketTranslator``) runs one of these per
direction so that a key press still reaches the other phone:

  - ``EventsToTones`` (from the leg with telephone-event): the event packets of a
    key press (start, updates, the end sent three times, all carrying the RTP
    timestamp of the key's start, RFC 4733 §2.5) become voice audio: the ITU-T
    Q.23 tone pair, phase-continuous across packets, at the event's volume, for
    exactly the duration the events report. Each event packet that advances the
    duration gives one frame with the timestamp of the piece it covers; a packet
    that adds nothing (a retransmitted end) gives ``None``.
  - ``TonesToEvents`` (from the leg without telephone-event): the decoded audio of
    each voice packet goes through the Goertzel detector (``dtmf.DtmfDetector``).
    Once a key is confirmed (~50 ms of tone), the voice packets are replaced one for
    one by event packets: the first with the marker bit, all with the timestamp of
    the packet where the key was confirmed, the duration growing by each packet's
    length; when the key stops, the end packet is sent in the place of the next
    three packets (RFC 4733 §2.5.1.4). Sequence numbers therefore stay the
    sender's. The first ~50 ms of the tone, before it is confirmed, pass as audio.

Rule: sans-IO and clock-free (time is the RTP timestamp, in samples at 8 kHz); PCM
and event payloads in, PCM frames or event payloads out. RTP headers are the
translator's business.
"""

from dataclasses import dataclass

from wpbxd.telephony.media.dtmf import (
    DEFAULT_VOLUME,
    END_REPEATS,
    DtmfDetector,
    DtmfError,
    build_event,
    dtmf_pcm,
    parse_event,
    volume_amplitude,
)

TS_MOD = 1 << 32
FRAME_SAMPLES = 80          # tones are made in whole 10 ms frames (G.729's frame)
MAX_STEP = 480              # samples of tone one event packet may add (60 ms: a few lost updates)
MAX_DURATION = 0xFFFF       # RFC 4733 §2.5.1.3: the duration field's limit


@dataclass(frozen=True)
class ToneFrame:
    """Voice audio standing in for an event packet: s16le PCM from ``timestamp`` on."""

    timestamp: int
    pcm: bytes


@dataclass(frozen=True)
class EventPacket:
    """A telephone-event payload standing in for a voice packet."""

    timestamp: int
    payload: bytes
    marker: bool


class EventsToTones:
    """RFC 4733 events of one direction in, in-band tone frames out."""

    def __init__(self) -> None:
        self._event: tuple[int, int] | None = None    # (RTP timestamp, event code) being played
        self._played = 0                              # samples of it already played

    def feed(self, timestamp: int, payload: bytes) -> ToneFrame | None:
        try:
            event = parse_event(payload)
        except DtmfError:
            return None
        digit = event.digit
        if digit is None:                             # not a DTMF key (RFC 4733 §3.2 codes 0-15)
            return None
        key = (timestamp, event.event)
        if key != self._event:
            self._event, self._played = key, 0
        target = event.duration if event.end else min(event.duration, self._played + MAX_STEP)
        step = target - self._played
        if step <= 0:
            return None
        step = -(-step // FRAME_SAMPLES) * FRAME_SAMPLES
        start = self._played
        self._played += step
        pcm = dtmf_pcm(digit, step, volume_amplitude(event.volume), start)
        return ToneFrame((timestamp + start) % TS_MOD, pcm)


class TonesToEvents:
    """Decoded voice of one direction in; an event packet to send instead, or ``None``
    (send the voice packet as it is)."""

    def __init__(self, volume: int = DEFAULT_VOLUME) -> None:
        self.detector = DtmfDetector()
        self.volume = volume
        self._pressed: list[str] = []                 # keys confirmed, not yet sent
        self._digit: str | None = None                # key being sent
        self._start = 0                               # its RTP timestamp
        self._duration = 0
        self._ends_left = 0                           # end packets still to send
        self._end: bytes = b""

    def feed(self, timestamp: int, pcm: bytes) -> EventPacket | None:
        """``pcm``: the decoded audio of the voice packet with RTP ``timestamp``."""
        self._pressed += self.detector.feed(pcm)
        if self._ends_left:
            self._ends_left -= 1
            return EventPacket(self._start, self._end, False)
        if self._digit is not None:
            if self.detector.held == self._digit and not self._pressed:
                self._duration = min((timestamp + len(pcm) // 2 - self._start) % TS_MOD, MAX_DURATION)
                return EventPacket(self._start, build_event(self._digit, self._duration, False, self.volume),
                                   False)
            self._end = build_event(self._digit, self._duration, True, self.volume)
            self._digit = None
            self._ends_left = END_REPEATS - 1
            return EventPacket(self._start, self._end, False)
        if not self._pressed:
            return None
        self._digit = self._pressed.pop(0)
        self._start = timestamp
        self._duration = len(pcm) // 2
        return EventPacket(timestamp, build_event(self._digit, self._duration, False, self.volume), True)
