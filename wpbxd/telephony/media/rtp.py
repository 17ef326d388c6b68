"""RTP packets (RFC 3550) for endpoints the PBX terminates itself, and a small jitter buffer.

Responsible for: reading and writing the fixed RTP header, numbering our own
outgoing packets (``RtpSender``: SSRC, sequence, timestamp) and reordering
received packets into a steady 20 ms playout (``JitterBuffer``).

Rule 1: sans-IO. Bytes and ``now`` (seconds, from the caller's clock) in,
records or bytes out; no socket, no sleep, no clock read here.
Rule 2: a datagram that is not RTP raises ``RtpError`` from ``parse``; the
jitter buffer never raises on odd sequence numbers, it counts them.
The relay (``relay.py``) does not use this module: it never parses payloads.
"""

import os
import struct
from dataclasses import dataclass

RTP_VERSION = 2             # RFC 3550 §5.1
HEADER_BYTES = 12           # fixed header, no CSRC
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
MAX_DROPOUT = 3000          # packets; a jump larger than this restarts the buffer (RFC 3550 A.1)
_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """A datagram that is not a usable RTP packet; the message says why."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse(data: bytes) -> RtpPacket:
    """Read one RTP packet (CSRCs, header extension and padding are skipped)."""
    if len(data) < HEADER_BYTES:
        raise RtpError(f"RTP packet of {len(data)} bytes is shorter than the {HEADER_BYTES}-byte header")
    first, second, seq, ts, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise RtpError(f"RTP version {first >> 6} is not 2")
    offset = HEADER_BYTES + 4 * (first & 0x0F)
    end = len(data)
    if first & 0x10:  # header extension: 4-byte header then length words
        if end < offset + 4:
            raise RtpError("RTP header extension is cut short")
        offset += 4 + 4 * int.from_bytes(data[offset + 2:offset + 4], "big")
    if first & 0x20:  # padding: last byte says how many
        pad = data[-1]
        if pad == 0 or pad > end - offset:
            raise RtpError(f"RTP padding count {pad} is not possible here")
        end -= pad
    if offset > end:
        raise RtpError("RTP header is longer than the packet")
    return RtpPacket(second & 0x7F, seq, ts, ssrc, bool(second & 0x80), bytes(data[offset:end]))


def build(payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes,
          marker: bool = False) -> bytes:
    """One RTP packet with the fixed header and ``payload``."""
    return _HEADER.pack(0x80, (0x80 if marker else 0) | (payload_type & 0x7F), sequence % SEQ_MOD,
                        timestamp % TS_MOD, ssrc) + payload


class RtpSender:
    """Numbers our own packets: random SSRC and starting points (RFC 3550 §5.1)."""

    def __init__(self, ssrc: int | None = None) -> None:
        self.ssrc = ssrc if ssrc is not None else int.from_bytes(os.urandom(4), "big")
        self.sequence = int.from_bytes(os.urandom(2), "big")
        self.timestamp = int.from_bytes(os.urandom(4), "big")
        self.sent = 0

    def packet(self, payload_type: int, payload: bytes, samples: int, marker: bool = False) -> bytes:
        """The next packet; the timestamp then advances by ``samples``."""
        data = build(payload_type, self.sequence, self.timestamp, self.ssrc, payload, marker)
        self.sequence = (self.sequence + 1) % SEQ_MOD
        self.timestamp = (self.timestamp + samples) % TS_MOD
        self.sent += 1
        return data

    def event_packet(self, payload_type: int, payload: bytes, timestamp: int, marker: bool) -> bytes:
        """A telephone-event packet (RFC 4733 §2.5): the event's own start timestamp, a new sequence."""
        data = build(payload_type, self.sequence, timestamp, self.ssrc, payload, marker)
        self.sequence = (self.sequence + 1) % SEQ_MOD
        self.sent += 1
        return data

    def skip(self, samples: int) -> None:
        """Advance the timestamp over time during which nothing was sent."""
        self.timestamp = (self.timestamp + samples) % TS_MOD


class JitterBuffer:
    """Reorders received packets of one stream and hands out one per playout tick.

    Playout starts once ``depth`` packets are held (or the first one waited
    ``depth`` ticks). Each ``pop`` returns the payload of the next sequence
    number, or ``None`` for a packet that has not arrived (lost or late: the
    caller conceals it). Packets older than the playout point are dropped and
    counted; a jump of more than ``MAX_DROPOUT`` (a new sender) restarts it.
    """

    def __init__(self, depth: int = 2, capacity: int = 50) -> None:
        if not 1 <= depth <= capacity:
            raise ValueError(f"jitter buffer depth {depth} must be 1..{capacity}")
        self.depth = depth
        self.capacity = capacity
        self._held: dict[int, RtpPacket] = {}
        self._next: int | None = None
        self._waited = 0
        self.late = 0
        self.lost = 0
        self.received = 0
        self.restarts = 0
        self.ssrc: int | None = None

    def push(self, packet: RtpPacket) -> None:
        self.received += 1
        if self.ssrc is not None and packet.ssrc != self.ssrc:
            self._restart()
        self.ssrc = packet.ssrc
        seq = packet.sequence
        if self._next is not None:
            ahead = (seq - self._next) % SEQ_MOD
            if ahead >= SEQ_MOD // 2:          # behind the playout point
                if SEQ_MOD - ahead > MAX_DROPOUT:
                    self._restart()
                else:
                    self.late += 1
                    return
            elif ahead > MAX_DROPOUT:
                self._restart()
        if len(self._held) >= self.capacity:
            self._held.pop(self._oldest())
        self._held[seq] = packet

    def pop(self) -> RtpPacket | None:
        """The packet due at this tick, or ``None`` (nothing yet, or a gap)."""
        if self._next is None:
            if not self._held:
                return None
            self._waited += 1
            if len(self._held) < self.depth and self._waited < self.depth:
                return None
            self._next = self._oldest()
        packet = self._held.pop(self._next, None)
        if packet is None:
            if not self._held:                 # the sender paused: wait for it again
                self._next = None
                self._waited = 0
                return None
            self.lost += 1
        self._next = (self._next + 1) % SEQ_MOD
        return packet

    def _oldest(self) -> int:
        ref = next(iter(self._held)) if self._next is None else self._next
        return min(self._held, key=lambda s: (s - ref + SEQ_MOD // 2) % SEQ_MOD)

    def _restart(self) -> None:
        self._held.clear()
        self._next = None
        self._waited = 0
        self.restarts += 1
