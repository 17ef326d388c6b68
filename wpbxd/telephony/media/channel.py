"""Media channel: the RTP endpoint of a call the PBX answers itself (IVR, voicemail, echo...).

Responsible for: one RTP socket pair from the ``PortAllocator``; a 20 ms pacing
task that each tick takes one packet out of the jitter buffer (decoding it, or
concealing a gap) and sends one packet of whatever is playing (a prompt, a
looped music file, a call-progress tone, the caller's own voice for the echo
test, or silence); digits from RFC 4733 events, from in-band DTMF (Goertzel,
only when the peer did not negotiate telephone-event) and from SIP INFO
(``inject_digit``); fax CNG detection; recording to a WAV file; a frame
processor (``set_processor``: each tick, the 20 ms heard in, the 20 ms to send
out), through which a fax receiver or any other sample-level engine talks.

The applications call the ``async`` verbs: ``play``, ``play_tone``,
``collect_digits``, ``record``, ``echo``, ``start_music``, ``detect_fax``.
Each raises ``ChannelClosed`` once the call is gone (``close()``), so an IVR
stops at the caller's hangup without checking.

Rule 1: it never blocks the loop: file reads happen when a prompt starts
(prompts are short 8 kHz files), WAV writes are small appends per tick.
Rule 2: it knows nothing of SIP or the dialplan; the B2BUA opens it, gives it the
negotiated codec and peer address, and closes it.
Rule 3: timing comes from the loop clock; no test asserts on it.
"""

import asyncio
import logging
import os
import socket
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from wpbxd.telephony.media import rtp, tones
from wpbxd.telephony.media.codec import FRAME_PCM_BYTES, FRAME_SAMPLES, SAMPLE_RATE, Codec
from wpbxd.telephony.media.dtmf import CngDetector, DtmfDetector, EventReceiver, digit_payloads
from wpbxd.telephony.media.negotiation import Negotiated
from wpbxd.telephony.media.relay import TOS_EF, PortAllocator

log = logging.getLogger(__name__)

TICK = 0.020                    # seconds per packet (ptime 20)
MAX_BEHIND = 0.200              # seconds late after which pacing restarts from now
RECV_BUDGET = 16                # datagrams read per readiness report
RECV_BUFFER = 2048              # bytes
SILENCE_POWER = 1.0e5           # mean sample power under which a frame counts as silence
DIGITS = "0123456789*#ABCD"

# A frame processor: the 20 ms of 16-bit PCM heard this tick (``None`` when no packet
# came: a gap or a pause) in, the 20 ms of 16-bit PCM to send out.
FrameProcessor: TypeAlias = Callable[[bytes | None], bytes]


class ChannelClosed(Exception):
    """The call (and its media channel) is gone."""


@dataclass(frozen=True)
class RecordResult:
    path: Path
    seconds: float
    reason: str                 # "digit", "silence", "max", "hangup", "error" (nothing kept)
    digit: str = ""


def load_pcm(path: str | Path) -> bytes:
    """16-bit 8 kHz mono PCM from a WAV file (``sounds`` converts uploads to that)."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise ValueError(f"{path.name}: needs 8 kHz 16-bit mono WAV, got {wav.getframerate()} Hz "
                                 f"{8 * wav.getsampwidth()}-bit {wav.getnchannels()} channel(s)")
            return wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as err:
        raise ValueError(f"{path.name}: not a usable WAV file ({err})") from None


class _Source:
    """Something that yields 20 ms PCM frames to send."""

    def __init__(self, pcm: bytes, loop: bool) -> None:
        if len(pcm) % 2:
            pcm = pcm[:-1]
        self.pcm = pcm
        self.loop = loop and bool(pcm)
        self.pos = 0
        self.done: asyncio.Future | None = None

    def frame(self) -> bytes | None:
        pcm = self.pcm
        if self.pos >= len(pcm):
            if not self.loop:
                return None
            self.pos = 0
        chunk = pcm[self.pos:self.pos + FRAME_PCM_BYTES]
        self.pos += FRAME_PCM_BYTES
        while len(chunk) < FRAME_PCM_BYTES:
            if not self.loop:
                return chunk + bytes(FRAME_PCM_BYTES - len(chunk))
            need = FRAME_PCM_BYTES - len(chunk)
            chunk += pcm[:need]
            self.pos = need
        return chunk


class _Recorder:
    def __init__(self, path: Path, max_frames: int, silence_frames: int | None) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.part")
        self.wav = wave.open(str(self.tmp), "wb")
        self.wav.setnchannels(1)
        self.wav.setsampwidth(2)
        self.wav.setframerate(SAMPLE_RATE)
        self.frames = 0
        self.max_frames = max_frames
        self.silence_frames = silence_frames
        self.silent_run = 0
        self.heard = False
        self.done: asyncio.Future | None = None

    def add(self, pcm: bytes) -> str | None:
        self.wav.writeframesraw(pcm)
        self.frames += 1
        if self.silence_frames is not None:
            if _power(pcm) < SILENCE_POWER:
                self.silent_run += 1
            else:
                self.silent_run = 0
                self.heard = True
            if self.heard and self.silent_run >= self.silence_frames:
                return "silence"
        if self.frames >= self.max_frames:
            return "max"
        return None

    def finish(self) -> float:
        self.wav.close()
        os.replace(self.tmp, self.path)
        return self.frames * FRAME_SAMPLES / SAMPLE_RATE

    def abort(self) -> None:
        try:
            self.wav.close()
        except OSError:
            pass  # closing rewrites the header: the storage may be gone already
        self.tmp.unlink(missing_ok=True)


def _power(pcm: bytes) -> float:
    samples = memoryview(pcm).cast("h")
    return sum(x * x for x in samples[::4]) / max(1, len(samples) // 4)


class MediaChannel:
    """One terminated RTP stream. Build with ``open``, then ``start(negotiated)``."""

    def __init__(self, rtp_sock: socket.socket, rtcp_sock: socket.socket, port: int,
                 allocator: PortAllocator | None, loop: asyncio.AbstractEventLoop,
                 tone_zone: str = "fr", jitter_depth: int = 2) -> None:
        self.local_port = port
        self._sock = rtp_sock
        self._rtcp = rtcp_sock
        self._allocator = allocator
        self._loop = loop
        self.tone_zone = tone_zone
        self._jitter = rtp.JitterBuffer(jitter_depth)
        self._sender = rtp.RtpSender()
        self._events = EventReceiver()
        self._inband: DtmfDetector | None = None
        self._cng: CngDetector | None = None
        self._codec: Codec | None = None
        self.negotiated: Negotiated | None = None
        self._remote: tuple | None = None
        self._sdp_remote: tuple | None = None
        self._latched = False
        self._source: _Source | None = None
        self._music: _Source | None = None
        self._echo: deque[bytes] | None = None
        self._recorder: _Recorder | None = None
        self._processor: FrameProcessor | None = None
        self._outgoing_digits: deque[tuple[bytes, bool]] = deque()
        self._event_ts = 0
        self._digits: deque[str] = deque()
        self._digit_waiter: asyncio.Future | None = None
        self._fax: asyncio.Future = loop.create_future()
        self._closed: asyncio.Future = loop.create_future()
        self._task: asyncio.Task | None = None
        self.on_digit: Callable[[str], None] | None = None
        self.stats = {"received": 0, "sent": 0, "foreign": 0, "bad": 0, "late_ticks": 0, "digits": 0}
        loop.add_reader(rtp_sock.fileno(), self._on_readable)
        loop.add_reader(rtcp_sock.fileno(), self._drain_rtcp)

    # -- life -----------------------------------------------------------------------
    @classmethod
    def open(cls, allocator: PortAllocator, bind_host: str,
             loop: asyncio.AbstractEventLoop | None = None, **kwargs) -> "MediaChannel":
        """Bind an RTP/RTCP pair from ``allocator``; raises ``NoPortsAvailable``."""
        loop = loop or asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET

        def bind(port: int) -> tuple[socket.socket, socket.socket]:
            socks: list[socket.socket] = []
            try:
                for p in (port, port + 1):
                    sock = socket.socket(family, socket.SOCK_DGRAM)
                    socks.append(sock)
                    sock.setblocking(False)
                    if family == socket.AF_INET:
                        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, TOS_EF)
                    sock.bind((bind_host, p))
            except OSError:
                for sock in socks:
                    sock.close()
                raise
            return socks[0], socks[1]

        port, (rtp_sock, rtcp_sock) = allocator.allocate_bound(bind)
        return cls(rtp_sock, rtcp_sock, port, allocator, loop, **kwargs)

    def start(self, negotiated: Negotiated) -> None:
        """Use ``negotiated``'s codec and peer address and start sending (idempotent codec change)."""
        self._ensure_open()
        if self._codec is None or self._codec.name != negotiated.codec:
            if self._codec is not None:
                self._codec.close()
            self._codec = Codec(negotiated.codec)
        self.negotiated = negotiated
        self._inband = DtmfDetector() if negotiated.event_pt is None else None
        self.set_remote(negotiated.remote_host, negotiated.remote_port)
        if self._task is None:
            self._task = self._loop.create_task(self._pace())

    def set_remote(self, host: str | None, port: int) -> None:
        """Where our packets go until the peer's own packets teach better (symmetric RTP)."""
        if not host or port == 0 or host in ("0.0.0.0", "::"):
            self._sdp_remote = None
        else:
            self._sdp_remote = (host, port) if ":" not in host else (host, port, 0, 0)
        if not self._latched:
            self._remote = self._sdp_remote

    @property
    def ssrc(self) -> int:
        """The SSRC of the packets this channel sends."""
        return self._sender.ssrc

    @property
    def closed(self) -> bool:
        return self._closed.done()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    def close(self) -> None:
        """Stop sending, fail every pending verb with ``ChannelClosed``, free the ports."""
        if self._closed.done():
            return
        self._closed.set_result(None)
        if self._task is not None:
            self._task.cancel()
        for sock in (self._sock, self._rtcp):
            self._loop.remove_reader(sock.fileno())
            sock.close()
        if self._allocator is not None:
            self._allocator.release(self.local_port)
        if self._recorder is not None:
            self._finish_record("hangup")
        for fut in (self._digit_waiter, self._source.done if self._source else None):
            if fut is not None and not fut.done():
                fut.set_result(None)    # the waiting verb sees ``closed`` and raises ChannelClosed
        if self._codec is not None:
            self._codec.close()

    def _ensure_open(self) -> None:
        if self._closed.done():
            raise ChannelClosed()

    # -- verbs ------------------------------------------------------------------------
    async def play(self, sound: bytes | str | Path, interrupt: str = "") -> str | None:
        """Play PCM (or a WAV file) once. A digit in ``interrupt`` stops it and is
        returned (it stays queued for ``collect_digits``); else ``None`` at the end."""
        self._ensure_open()
        pcm = sound if isinstance(sound, bytes) else load_pcm(sound)
        if interrupt and self._digits and self._digits[0] in interrupt:
            return self._digits[0]
        source = self._start_source(_Source(pcm, loop=False))
        try:
            while True:
                if not interrupt:
                    await asyncio.shield(source.done)
                    self._ensure_open()
                    return None
                waiter = self._wait_digit()
                finished, _ = await asyncio.wait({source.done, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if self.closed:
                    raise ChannelClosed()
                if self._digits and self._digits[0] in interrupt:
                    return self._digits[0]
                if self._digits:
                    self._digits.popleft()     # a key that does not interrupt this prompt
                if source.done in finished:
                    return None
        finally:
            if self._source is source:
                self._source = None
                self._resolve(source)

    async def play_tone(self, tone: str, seconds: float) -> None:
        """Play a call-progress tone of the channel's tone zone for ``seconds``."""
        self._ensure_open()
        pcm = tones.render(self.tone_zone, tone)
        frames = max(1, int(seconds / TICK))
        source = _Source(pcm, loop=True)
        looped = b"".join(source.frame() or b"" for _ in range(frames))
        await self.play(looped)

    def start_music(self, sound: bytes | str | Path) -> None:
        """Loop ``sound`` whenever nothing else plays (music on hold), until ``stop_music``."""
        self._ensure_open()
        pcm = sound if isinstance(sound, bytes) else load_pcm(sound)
        self._music = _Source(pcm, loop=True)

    def start_tone(self, tone: str) -> None:
        """Loop a call-progress tone (e.g. ringback) like music, until ``stop_music``."""
        self.start_music(tones.render(self.tone_zone, tone))

    def stop_music(self) -> None:
        self._music = None

    async def collect_digits(self, max_digits: int, first_timeout: float, inter_timeout: float,
                             terminators: str = "#") -> str:
        """Up to ``max_digits`` keys; stops at a terminator (not returned), or when no key
        came ``first_timeout`` seconds after the start / ``inter_timeout`` after a key."""
        self._ensure_open()
        got = ""
        while len(got) < max_digits:
            if not self._digits:
                waiter = self._wait_digit()
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), first_timeout if not got else inter_timeout)
                except TimeoutError:
                    break
                if self.closed:
                    raise ChannelClosed()
            if not self._digits:
                continue
            digit = self._digits.popleft()
            if digit in terminators:
                break
            got += digit
        return got

    def flush_digits(self) -> None:
        """Forget keys typed ahead (before a prompt whose answer must be fresh)."""
        self._digits.clear()

    def pending_digits(self) -> str:
        """Keys received and not collected yet."""
        return "".join(self._digits)

    async def record(self, path: str | Path, max_seconds: float, stop_digits: str = "#",
                     silence_seconds: float | None = None) -> RecordResult:
        """Record what the peer says into a WAV file (8 kHz 16-bit), written under a
        temporary name and renamed when done, so a reader never sees half a file."""
        self._ensure_open()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        recorder = _Recorder(path, max(1, int(max_seconds / TICK)),
                             None if silence_seconds is None else max(1, int(silence_seconds / TICK)))
        recorder.done = self._loop.create_future()
        self._recorder = recorder
        try:
            while True:
                waiter = self._wait_digit()
                await asyncio.wait({recorder.done, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if recorder.done.done():
                    return recorder.done.result()
                if self._digits:
                    digit = self._digits.popleft()
                    if digit in stop_digits:
                        return self._finish_record("digit", digit)
        finally:
            if self._recorder is recorder:
                self._finish_record("hangup")

    async def echo(self, seconds: float | None = None) -> None:
        """Send the peer's own audio back (the echo test), until ``seconds`` or hangup."""
        self._ensure_open()
        self._echo = deque(maxlen=50)
        try:
            if seconds is None:
                await asyncio.shield(self._closed)
            else:
                await asyncio.wait({self._closed}, timeout=seconds)
        finally:
            self._echo = None
        self._ensure_open()

    async def detect_fax(self, seconds: float) -> bool:
        """Listen ``seconds`` for the fax calling tone (CNG, 1100 Hz); True if heard."""
        self._ensure_open()
        if self._cng is None:
            self._cng = CngDetector()
        await asyncio.wait({self._fax, self._closed}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        return self._fax.done()

    def fax_future(self) -> asyncio.Future:
        """Resolves when CNG is heard (start listening with ``detect_fax`` or ``listen_fax``)."""
        return self._fax

    def listen_fax(self) -> None:
        if self._cng is None:
            self._cng = CngDetector()

    def set_processor(self, processor: FrameProcessor | None) -> None:
        """Run ``processor`` every tick (``None`` removes it). While set, what it returns is
        sent in place of prompts, music and echo (RFC 4733 digits still go first), and
        it is called every tick, with ``None`` when nothing was heard, so an engine
        that counts time in samples (a fax modem's timers) keeps its clock. A processor
        that raises is removed and logged; the channel goes on with silence."""
        self._ensure_open()
        self._processor = processor

    def send_digit(self, digit: str) -> None:
        """Send one RFC 4733 digit (if negotiated) in place of voice for ~100 ms."""
        if self.negotiated is None or self.negotiated.event_pt is None:
            return
        for payload, marker in digit_payloads(digit):
            self._outgoing_digits.append((payload, marker))

    def inject_digit(self, digit: str) -> None:
        """A digit that arrived outside RTP (SIP INFO, RFC 2976 / application/dtmf-relay)."""
        if digit and digit.upper() in DIGITS:
            self._on_digit(digit.upper())

    # -- internals -------------------------------------------------------------------
    def _start_source(self, source: _Source) -> _Source:
        if self._source is not None:
            self._resolve(self._source)
        source.done = self._loop.create_future()
        self._source = source
        return source

    @staticmethod
    def _resolve(source: _Source) -> None:
        if source.done is not None and not source.done.done():
            source.done.set_result(None)

    def _wait_digit(self) -> asyncio.Future:
        if self._digit_waiter is None or self._digit_waiter.done():
            self._digit_waiter = self._loop.create_future()
            if self._digits:
                self._digit_waiter.set_result(None)
        return self._digit_waiter

    def _on_digit(self, digit: str) -> None:
        self.stats["digits"] += 1
        self._digits.append(digit)
        if self._digit_waiter is not None and not self._digit_waiter.done():
            self._digit_waiter.set_result(None)
        if self.on_digit is not None:
            self.on_digit(digit)

    def _finish_record(self, reason: str, digit: str = "") -> RecordResult:
        recorder = self._recorder
        assert recorder is not None
        self._recorder = None
        try:
            seconds = recorder.finish()
        except OSError as err:
            log.warning("media channel on port %d: recording lost: %s", self.local_port, err)
            recorder.abort()
            seconds, reason = 0.0, "error"
        result = RecordResult(recorder.path, seconds, reason, digit)
        if recorder.done is not None and not recorder.done.done():
            recorder.done.set_result(result)
        return result

    def _on_readable(self) -> None:
        for _ in range(RECV_BUDGET):
            try:
                data, src = self._sock.recvfrom(RECV_BUFFER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.stats["bad"] += 1
                return
            try:
                packet = rtp.parse(data)
            except rtp.RtpError:
                self.stats["bad"] += 1
                continue
            if src != self._remote:
                if self._latched and src != self._sdp_remote:
                    self.stats["foreign"] += 1
                    continue
                self._remote = src
                self._latched = True
            self.stats["received"] += 1
            negotiated = self.negotiated
            if negotiated is None:
                continue
            if packet.payload_type == negotiated.event_pt:
                digit = self._events.feed(packet.timestamp, packet.payload)
                if digit is not None:
                    self._on_digit(digit)
            elif packet.payload_type == negotiated.payload_type:
                self._jitter.push(packet)

    def _drain_rtcp(self) -> None:
        for _ in range(RECV_BUDGET):
            try:
                self._rtcp.recv(RECV_BUFFER)
            except OSError:
                return

    async def _pace(self) -> None:
        loop = self._loop
        deadline = loop.time()
        while True:
            deadline += TICK
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > MAX_BEHIND:
                self.stats["late_ticks"] += 1
                deadline = loop.time()
            try:
                self._tick()
            except Exception:
                log.exception("media channel on port %d: tick failed", self.local_port)

    def _tick(self) -> None:
        codec = self._codec
        if codec is None or self.closed:
            return
        lost = self._jitter.lost
        packet = self._jitter.pop()
        pcm_in: bytes | None = None
        if packet is not None:
            try:
                pcm_in = codec.decode(packet.payload)
            except ValueError:
                pcm_in = None
        elif self._jitter.lost != lost:
            pcm_in = codec.conceal()   # a gap in the stream; an empty buffer (pause) is not heard
        if pcm_in is not None:
            self._hear(pcm_in)
        processed = self._process(pcm_in) if self._processor is not None else None
        self._send(pcm_in, processed)

    def _process(self, heard: bytes | None) -> bytes | None:
        processor = self._processor
        assert processor is not None
        try:
            out = processor(heard)
        except Exception:
            log.exception("media channel on port %d: frame processor failed, removed", self.local_port)
            self._processor = None
            return None
        if len(out) != FRAME_PCM_BYTES:
            out = out[:FRAME_PCM_BYTES] + bytes(max(0, FRAME_PCM_BYTES - len(out)))
        return out

    def _hear(self, pcm: bytes) -> None:
        if self._inband is not None:
            for digit in self._inband.feed(pcm):
                self._on_digit(digit)
        if self._cng is not None and not self._fax.done() and self._cng.feed(pcm):
            self._fax.set_result(True)
        if self._echo is not None:
            self._echo.append(pcm)
        recorder = self._recorder
        if recorder is not None:
            try:
                reason = recorder.add(pcm)
            except OSError as err:          # the storage went away (USB key pulled, disk full)
                log.warning("media channel on port %d: recording failed: %s", self.local_port, err)
                self._recorder = None
                recorder.abort()
                if recorder.done is not None and not recorder.done.done():
                    recorder.done.set_result(RecordResult(recorder.path, 0.0, "error"))
                return
            if reason is not None:
                self._finish_record(reason)

    def _send(self, heard: bytes | None, processed: bytes | None = None) -> None:
        remote = self._remote
        negotiated = self.negotiated
        codec = self._codec
        if negotiated is None or codec is None:
            return
        if self._outgoing_digits:
            payload, marker = self._outgoing_digits.popleft()
            if marker:
                self._event_ts = self._sender.timestamp
            data = self._sender.event_packet(negotiated.event_pt, payload, self._event_ts, marker)
            self._sender.skip(FRAME_SAMPLES)
        else:
            pcm = None
            if processed is not None:
                pcm = processed
            elif self._echo is not None:
                pcm = self._echo.popleft() if self._echo else None
            elif self._source is not None:
                pcm = self._source.frame()
                if pcm is None:
                    self._resolve(self._source)
                    self._source = None
            if pcm is None and self._music is not None:
                pcm = self._music.frame()
            if pcm is None:
                pcm = bytes(FRAME_PCM_BYTES)
            data = self._sender.packet(negotiated.payload_type, codec.encode(pcm), FRAME_SAMPLES)
        if remote is None or negotiated.direction == "sendonly" or negotiated.direction == "inactive":
            return  # the peer only sends (or is on hold): nothing goes out
        try:
            self._sock.sendto(data, remote)
            self.stats["sent"] += 1
        except OSError:
            self.stats["bad"] += 1
