"""The media channel's frame processor, and a fax received through it over loopback RTP.

``FaxPhone`` is the test side's fax machine: a spandsp calling terminal on an
RTP socket, paced every 20 ms like a real gateway, with a small playout buffer.
The end-to-end test through wpbxd (``test_fax_e2e.py``) uses it too.
"""

import asyncio
import socket
from array import array
from pathlib import Path

from tests.daemon_runner import free_rtp_range
from tests.media_engine.rtpphone import HOST, RtpPhone, until
from tests.media_engine.test_fax_receiver import need_spandsp, write_fax_tiff
from wpbxd.telephony.media import fax, rtp
from wpbxd.telephony.media.channel import MediaChannel
from wpbxd.telephony.media.codec import FRAME_PCM_BYTES, FRAME_SAMPLES, Codec
from wpbxd.telephony.media.dtmf import tone_pcm
from wpbxd.telephony.media.negotiation import Negotiated
from wpbxd.telephony.media.relay import PortAllocator

PACE = 0.020            # seconds per packet
PLAYOUT = 2             # packets buffered before the fax terminal hears them
MAX_QUEUE = 6           # packets; beyond that the backlog is fed at once


def run(coro, timeout: float = 120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class FaxPhone:
    """A fax machine on RTP (G.711): sends ``tiff`` as the calling terminal."""

    def __init__(self, tiff: Path, codec: str = "PCMA") -> None:
        self.codec = Codec(codec)
        self.terminal = fax.FaxTerminal(calling=True, ident="+33 1 40 00 00 00")
        self.terminal.set_tx_file(tiff)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.sender = rtp.RtpSender()
        self.target: tuple | None = None
        self.queue: list[rtp.RtpPacket] = []
        self.started = False
        self.received = 0

    def _drain(self) -> None:
        while True:
            try:
                data, _src = self.sock.recvfrom(4096)
            except BlockingIOError:
                return
            try:
                packet = rtp.parse(data)
            except rtp.RtpError:
                continue
            if packet.payload_type == self.codec.payload_type:
                self.queue.append(packet)
                self.received += 1

    def _hear(self) -> None:
        self.queue.sort(key=lambda p: p.sequence)
        if not self.started:
            if len(self.queue) < PLAYOUT:
                self.terminal.hear(bytes(FRAME_PCM_BYTES))
                return
            self.started = True
        if not self.queue:
            self.terminal.hear(None)
            return
        feed = 1 + max(0, len(self.queue) - MAX_QUEUE)
        for packet in self.queue[:feed]:
            self.terminal.hear(self.codec.decode(packet.payload))
        del self.queue[:feed]

    async def send_fax(self, max_seconds: float = 120) -> fax.FaxResult:
        """Run the session in real time until the terminal reaches phase E (or the bound)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        end = deadline + max_seconds
        while not self.terminal.finished and loop.time() < end:
            self._drain()
            self._hear()
            payload = self.codec.encode(self.terminal.say())
            if self.target is not None:
                self.sock.sendto(self.sender.packet(self.codec.payload_type, payload, FRAME_SAMPLES), self.target)
            deadline += PACE
            await asyncio.sleep(max(0.0, deadline - loop.time()))
        return self.terminal.result("the test's bound ran out")

    def close(self) -> None:
        self.sock.close()
        self.terminal.close()
        self.codec.close()


def channel_for(phone_port: int, codec: str, pt: int) -> tuple[PortAllocator, MediaChannel]:
    allocator = PortAllocator(*free_rtp_range(10))
    channel = MediaChannel.open(allocator, HOST)
    channel.start(Negotiated(codec, pt, None, HOST, phone_port, "sendrecv"))
    return allocator, channel


def level(pcm: bytes) -> float:
    x = array("h")
    x.frombytes(pcm)
    return (sum(v * v for v in x) / max(1, len(x))) ** 0.5


def test_a_frame_processor_gets_every_tick_and_its_output_is_sent():
    """What the processor returns is what the peer hears, in place of prompts; a tick with
    no packet reaches it as ``None``; removing it gives the channel back its sounds."""
    async def scenario():
        phone = RtpPhone("PCMU", None)
        allocator, channel = channel_for(phone.port, "PCMU", 0)
        phone.target = (HOST, channel.local_port)
        calls: list[bytes | None] = []
        tone = tone_pcm((1000.0,), FRAME_SAMPLES, 8000)

        def processor(heard: bytes | None) -> bytes:
            calls.append(heard)
            return tone

        channel.set_processor(processor)
        channel.start_music(bytes(FRAME_PCM_BYTES * 10))       # silent music loses to the processor
        await until(lambda: len(calls) >= 10)
        assert None in calls                                     # the phone has not spoken yet
        await phone.send_pcm(tone_pcm((500.0,), FRAME_SAMPLES * 10, 6000))
        await until(lambda: any(c is not None and level(c) > 1000 for c in calls))
        await until(lambda: len(phone.heard()) >= FRAME_PCM_BYTES * 20)
        assert level(phone.heard()[-FRAME_PCM_BYTES * 5:]) > 2000
        channel.set_processor(None)
        phone.received.clear()
        await until(lambda: len(phone.heard()) >= FRAME_PCM_BYTES * 10)
        assert level(phone.heard()[-FRAME_PCM_BYTES * 5:]) < 100
        channel.close()
        phone.close()
        assert allocator.in_use() == 0

    run(scenario())


def test_a_failing_processor_is_removed_and_the_channel_goes_on():
    async def scenario():
        phone = RtpPhone("PCMU", None)
        allocator, channel = channel_for(phone.port, "PCMU", 0)
        calls = []

        def broken(heard: bytes | None) -> bytes:
            calls.append(heard)
            raise RuntimeError("engine broke")

        channel.set_processor(broken)
        await until(lambda: calls)
        sent = channel.stats["sent"]
        await until(lambda: channel.stats["sent"] > sent + 5)
        assert len(calls) == 1
        channel.close()
        phone.close()

    run(scenario())


def test_a_fax_sent_over_rtp_arrives_through_the_channels_processor(tmp_path):
    """Seed "Fax vers e-mail", the media part: a G.711 fax machine sends one page in real
    time to a channel whose processor is a ``FaxReceiver``; the TIFF has the page."""
    need_spandsp()

    async def scenario():
        phone = FaxPhone(write_fax_tiff(tmp_path / "page.tif"))
        allocator, channel = channel_for(phone.port, "PCMA", 8)
        phone.target = (HOST, channel.local_port)
        receiver = fax.FaxReceiver(tmp_path / "in.tif")
        channel.set_processor(receiver)
        try:
            sent = await phone.send_fax()
            await until(lambda: receiver.finished, 15)
            got = receiver.result()
        finally:
            channel.close()
            receiver.close()
            phone.close()
        assert sent.ok, sent
        assert got.ok and got.pages == 1, got
        assert fax.count_tiff_pages((tmp_path / "in.tif").read_bytes()) == 1

    run(scenario())
