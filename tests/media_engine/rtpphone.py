"""A minimal RTP phone for tests: one UDP socket on loopback that sends paced 20 ms
packets (voice or RFC 4733 digits) and keeps every packet it receives."""

import asyncio
import socket

from wpbxd.telephony.media import rtp
from wpbxd.telephony.media.codec import FRAME_PCM_BYTES, FRAME_SAMPLES, Codec
from wpbxd.telephony.media.dtmf import digit_payloads

HOST = "127.0.0.1"
PACE = 0.020          # seconds between packets, like a real phone


class RtpPhone:
    def __init__(self, codec: str = "PCMU", event_pt: int | None = 101) -> None:
        self.codec = Codec(codec)
        self.event_pt = event_pt
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.sender = rtp.RtpSender()
        self.received: list[rtp.RtpPacket] = []
        self.sources: set[tuple] = set()
        self.target: tuple | None = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        while True:
            try:
                data, src = self.sock.recvfrom(4096)
            except BlockingIOError:
                return
            self.sources.add(src)
            self.received.append(rtp.parse(data))

    async def send_pcm(self, pcm: bytes) -> None:
        for i in range(0, len(pcm) - FRAME_PCM_BYTES + 1, FRAME_PCM_BYTES):
            payload = self.codec.encode(pcm[i:i + FRAME_PCM_BYTES])
            self.sock.sendto(self.sender.packet(self.codec.payload_type, payload, FRAME_SAMPLES), self.target)
            await asyncio.sleep(PACE)

    async def send_silence(self, seconds: float) -> None:
        await self.send_pcm(bytes(int(seconds / PACE) * FRAME_PCM_BYTES))

    async def send_digits(self, digits: str, gap: float = 0.1) -> None:
        for digit in digits:
            start = self.sender.timestamp
            for payload, marker in digit_payloads(digit):
                self.sock.sendto(self.sender.event_packet(self.event_pt, payload, start, marker), self.target)
                self.sender.skip(FRAME_SAMPLES)
                await asyncio.sleep(PACE)
            await self.send_silence(gap)

    def heard(self) -> bytes:
        """PCM of the voice packets received, in sequence order."""
        voice = [p for p in self.received if p.payload_type == self.codec.payload_type]
        return b"".join(self.codec.decode(p.payload) for p in voice)

    def close(self) -> None:
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.codec.close()


async def until(condition, timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (bounds a broken test; never a speed check)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)
