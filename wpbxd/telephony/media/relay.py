"""RTP/RTCP relay: the PBX anchors each call's media and forwards it between two phones.

Responsible for: handing out RTP port pairs from the configured range
(``PortAllocator``), binding one RTP and one RTCP socket per side of a stream,
forwarding every datagram received from side a out of side b's socket to side b's
address (and back), and learning each side's real address from its packets
(symmetric latching, so phones behind NAT get two-way audio).

Rule 1: payloads are opaque. The relay never decodes, re-packetises or reorders
media; it only reads the RTP/RTCP header's version and SSRC to decide latching. So
PCMU, PCMA, telephone-event (and anything else, SRTP included) pass through.
The one exception is a stream given transcoders (``set_transcoders``, for legs
that share no codec): its two RTP legs switch to ``_TranscodingLeg``, which
hands each packet to the translator from ``transcode.py``; every other stream
keeps the plain path unchanged.
Rule 2: the per-packet path is a plain callback doing ``recvfrom_into`` into one
reused buffer and ``sendto`` straight from it, several rounds per wake-up. The relay's sockets sit in an epoll set of its own whose one descriptor is
watched with ``loop.add_reader``, so a wake-up costs one ``epoll.poll`` and a dict
lookup per ready socket instead of asyncio's selector and handle machinery per
socket. No ``DatagramProtocol`` (its transport reads into a fresh 256 KiB buffer
per datagram), no per-packet objects beyond what Python makes.
Rule 3: it never blocks and never raises out of a reader callback: a datagram that
cannot be forwarded is dropped and counted in ``stats()``.

Latching (RFC 4961 symmetric RTP, as deployed behind NAT): packets for a side go
to the address its SDP gave (``set_remote``) until a packet from that side teaches
the address it really sends from. To keep a third party from stealing the stream,
a side that has latched moves to a new source only when
  - the packet comes from the address its SDP gave, or
  - its SSRC is the one already latched (the NAT rebound the phone's mapping), or
  - it arrives within ``LATCH_WINDOW`` seconds after ``set_remote`` changed the
    side's address (a re-INVITE moved the phone).
A side that has never received anything latches to the first valid RTP/RTCP packet.
"""

import asyncio
import ipaddress
import select
import socket
from collections import deque
from collections.abc import Callable
from typing import Literal, TypeVar

LATCH_WINDOW = 3.0          # seconds after set_remote during which any source may latch
BUFFER_SIZE = 8192          # bytes; larger datagrams are dropped (RTP fits in one MTU)
DRAIN_ROUNDS = 32           # epoll rounds per wake-up (one datagram per ready socket each)
EVENTS_MAX = 512            # ready sockets handled per epoll round
BUSY_ROUND = 8              # ready sockets in a round that make another round worth a poll
TOS_EF = 0xB8               # DSCP 46 (Expedited Forwarding) << 2, RFC 3246 / RFC 4594
RTP_VERSION = 2             # RFC 3550 §5.1
RTP_HEADER = 12             # bytes, fixed RTP header (RFC 3550 §5.1)
RTCP_HEADER = 8             # bytes, header + sender SSRC (RFC 3550 §6.4)
RTCP_PT_FIRST, RTCP_PT_LAST = 192, 223  # RFC 5761 §4: second byte range that means RTCP

Side = Literal["a", "b"]
T = TypeVar("T")


class NoPortsAvailable(RuntimeError):
    """Every RTP port of the configured range is in use (or held by another program)."""


class PortAllocator:
    """Even RTP ports (RTCP on port+1) from ``low``..``high``, never handed out twice at once.

    Released ports go to the back of the queue, so a port just freed is the last to
    be reused (late packets of an old call do not land in a new one).
    """

    def __init__(self, low: int, high: int) -> None:
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"RTP port range {low}-{high} is not within 1-65535 with low <= high")
        first = low + (low % 2)
        ports = range(first, high, 2)  # port+1 must also be in the range
        if not ports:
            raise ValueError(f"RTP port range {low}-{high} holds no even port with port+1 in range")
        self.low, self.high = low, high
        self._free: deque[int] = deque(ports)
        self._in_use: set[int] = set()
        self.skipped = 0  # ports found held by another program (counted per attempt)

    def allocate(self) -> int:
        """An even port not in use; raises ``NoPortsAvailable`` when none is left."""
        if not self._free:
            raise NoPortsAvailable(f"all {len(self._in_use)} RTP port pairs of "
                                   f"{self.low}-{self.high} are in use")
        port = self._free.popleft()
        self._in_use.add(port)
        return port

    def allocate_bound(self, bind: Callable[[int], T]) -> tuple[int, T]:
        """Allocate a port for which ``bind(port)`` succeeds; return it with bind's result.

        A port whose ``bind`` raises ``OSError`` (another program holds it) goes back
        to the end of the queue and the next one is tried, each free port at most once.
        """
        for _ in range(len(self._free)):
            port = self.allocate()
            try:
                return port, bind(port)
            except OSError:
                self.skipped += 1
                self.release(port)
        raise NoPortsAvailable(f"no RTP port pair of {self.low}-{self.high} could be bound "
                               f"({len(self._in_use)} in use here, the rest held by other programs)")

    def release(self, port: int) -> None:
        """Give ``port`` back; releasing a port that is not allocated is a bug."""
        if port not in self._in_use:
            raise ValueError(f"RTP port {port} is not allocated")
        self._in_use.remove(port)
        self._free.append(port)

    def available(self) -> int:
        """How many port pairs can still be allocated."""
        return len(self._free)

    def in_use(self) -> int:
        return len(self._in_use)


class _Leg:
    """One socket of one side (RTP or RTCP): receives from its phone, is the
    socket packets *to* its phone leave from, and knows that phone's address."""

    __slots__ = (
        "sock", "fd", "kind", "peer", "buf", "view", "clock", "target", "sdp_addr", "latched",
        "ssrc", "learn_until", "packets", "bytes", "dropped_no_remote", "dropped_foreign",
        "dropped_oversize", "send_errors", "recv_errors", "relatched", "translate",
    )

    def __init__(self, sock: socket.socket, kind: str, buf: bytearray, view: memoryview,
                 clock: Callable[[], float]) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.kind = kind
        self.peer: _Leg = self
        self.buf = buf
        self.view = view
        self.clock = clock
        self.target: tuple | None = None     # where packets for this phone go
        self.sdp_addr: tuple | None = None   # what its SDP said
        self.latched: tuple | None = None    # where its packets really come from
        self.ssrc: int | None = None
        self.learn_until = 0.0
        self.packets = 0                     # received from this phone and forwarded
        self.bytes = 0
        self.dropped_no_remote = 0
        self.dropped_foreign = 0
        self.dropped_oversize = 0
        self.send_errors = 0
        self.recv_errors = 0
        self.relatched = 0
        self.translate: Callable[[memoryview], bytes | None] | None = None

    def on_readable(self) -> None:
        """Forward one datagram. Reading exactly one per readiness report (the epoll set
        is level-triggered and reports the socket again while more is queued) spares
        the failing extra ``recvfrom`` and its exception that a drain loop pays on
        every wake-up, and most wake-ups carry one packet per socket."""
        try:
            n, src = self.sock.recvfrom_into(self.buf, BUFFER_SIZE, socket.MSG_TRUNC)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.recv_errors += 1  # e.g. a queued ICMP error; nothing to forward
            return
        if n > BUFFER_SIZE:
            self.dropped_oversize += 1
            return
        if src != self.latched and not self._learn(src, n):
            return
        peer = self.peer
        target = peer.target
        if target is None:
            self.dropped_no_remote += 1
            return
        try:
            peer.sock.sendto(self.view[:n], target)
        except OSError:  # includes BlockingIOError: a full send buffer drops, never waits
            self.send_errors += 1
            return
        self.packets += 1
        self.bytes += n

    def _learn(self, src: tuple, n: int) -> bool:
        """Decide on a packet from an address other than the latched one."""
        ssrc = self._ssrc(n)
        if ssrc is None:  # not RTP/RTCP: never latch on it
            self.dropped_foreign += 1
            return False
        if self.latched is None or src == self.sdp_addr or ssrc == self.ssrc \
                or self.clock() <= self.learn_until:
            if self.latched is not None:
                self.relatched += 1
            self.latched = src
            self.target = src
            self.ssrc = ssrc
            return True
        self.dropped_foreign += 1
        return False

    def _ssrc(self, n: int) -> int | None:
        """The sender SSRC of an RTP or RTCP packet (RFC 5761 demultiplexing), else None."""
        buf = self.buf
        if n < RTCP_HEADER or buf[0] >> 6 != RTP_VERSION:
            return None
        if RTCP_PT_FIRST <= buf[1] <= RTCP_PT_LAST:
            return int.from_bytes(buf[4:8], "big")
        if n < RTP_HEADER:
            return None
        return int.from_bytes(buf[8:12], "big")

    def set_sdp(self, addr: tuple | None, now: float) -> None:
        if addr == self.sdp_addr:
            return
        self.sdp_addr = addr
        self.learn_until = now + LATCH_WINDOW
        self.latched = None
        self.ssrc = None
        self.target = addr

    def counters(self) -> dict:
        return {"packets": self.packets, "bytes": self.bytes,
                "dropped_no_remote": self.dropped_no_remote,
                "dropped_foreign": self.dropped_foreign,
                "dropped_oversize": self.dropped_oversize, "send_errors": self.send_errors,
                "recv_errors": self.recv_errors}


class _TranscodingLeg(_Leg):
    """A leg whose packets go through ``translate`` (see ``transcode.py``) before
    being sent on. Kept apart so that the plain ``_Leg.on_readable`` pays nothing."""

    __slots__ = ()

    def on_readable(self) -> None:
        try:
            n, src = self.sock.recvfrom_into(self.buf, BUFFER_SIZE, socket.MSG_TRUNC)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.recv_errors += 1
            return
        if n > BUFFER_SIZE:
            self.dropped_oversize += 1
            return
        if src != self.latched and not self._learn(src, n):
            return
        target = self.peer.target
        if target is None:
            self.dropped_no_remote += 1
            return
        out = self.translate(self.view[:n])
        if out is None:
            self.dropped_foreign += 1
            return
        try:
            self.peer.sock.sendto(out, target)
        except OSError:
            self.send_errors += 1
            return
        self.packets += 1
        self.bytes += n


class RelayEndpoint:
    """One side of a stream, as the B2BUA sees it: put ``local_port`` in that side's SDP."""

    def __init__(self, port: int, rtp: _Leg, rtcp: _Leg) -> None:
        self.local_port = port
        self.local_rtcp_port = port + 1
        self._rtp = rtp
        self._rtcp = rtcp

    @property
    def remote(self) -> tuple | None:
        """Where this side's RTP goes now (latched address, else the SDP's)."""
        return self._rtp.target

    @property
    def latched(self) -> tuple | None:
        return self._rtp.latched

    def describe(self) -> dict:
        return {"local_port": self.local_port, "sdp": _addr_text(self._rtp.sdp_addr),
                "latched": _addr_text(self._rtp.latched),
                "rtcp_latched": _addr_text(self._rtcp.latched),
                "relatched": self._rtp.relatched + self._rtcp.relatched}


class RelayStream:
    """One relayed media stream between side ``a`` and side ``b`` (4 sockets)."""

    def __init__(self, relay: "RtpRelay", loop: asyncio.AbstractEventLoop,
                 a: RelayEndpoint, b: RelayEndpoint, legs: tuple[_Leg, ...]) -> None:
        self._relay = relay
        self._loop = loop
        self.a = a
        self.b = b
        self._legs = legs
        self.closed = False

    def set_remote(self, side: Side, host: str, port: int, rtcp_port: int | None = None) -> None:
        """Where packets for ``side`` are sent (from its SDP) until latching learns better.

        ``0.0.0.0``/``::`` or port 0 (RFC 2543 hold, or a rejected stream) means "no
        address": packets for that side are dropped until it sends one itself.
        Setting the same address again (a session refresh) keeps the latch.
        """
        endpoint = self._endpoint(side)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"remote RTP host {host!r} is not an IP address") from None
        if not 0 <= port <= 65535 or (rtcp_port is not None and not 0 <= rtcp_port <= 65535):
            raise ValueError(f"remote RTP port {port}/{rtcp_port} is out of range")
        if (ip.version == 6) != (self._relay.family == socket.AF_INET6):
            raise ValueError(f"remote RTP host {host} is not of the relay's address family")
        now = self._loop.time()
        if ip.is_unspecified or port == 0:
            endpoint._rtp.set_sdp(None, now)
            endpoint._rtcp.set_sdp(None, now)
            return
        text = str(ip)
        endpoint._rtp.set_sdp(_sockaddr(text, port), now)
        endpoint._rtcp.set_sdp(_sockaddr(text, rtcp_port or port + 1), now)  # 0: default

    def set_transcoders(self, a_to_b: Callable[[memoryview], bytes | None] | None,
                        b_to_a: Callable[[memoryview], bytes | None] | None) -> None:
        """Rewrite RTP (not RTCP) packets on their way: ``a_to_b(packet)`` returns the packet
        to send to b (``None``: drop it). Only these two legs leave the plain path."""
        a_rtp, _a_rtcp, b_rtp, _b_rtcp = self._legs
        for leg, translate in ((a_rtp, a_to_b), (b_rtp, b_to_a)):
            leg.translate = translate
            leg.__class__ = _Leg if translate is None else _TranscodingLeg

    def stats(self) -> dict:
        """Counters per direction (``a_to_b`` = received from a, sent to b) and addresses."""
        a_rtp, a_rtcp, b_rtp, b_rtcp = self._legs
        return {
            "a": self.a.describe(),
            "b": self.b.describe(),
            "a_to_b": {**a_rtp.counters(), "rtcp": a_rtcp.counters()},
            "b_to_a": {**b_rtp.counters(), "rtcp": b_rtcp.counters()},
        }

    def close(self) -> None:
        """Stop relaying, close the sockets and give the ports back (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for leg in self._legs:
            self._relay._unwatch(leg)
            leg.sock.close()
        self._relay._closed(self)

    def _endpoint(self, side: Side) -> RelayEndpoint:
        if side == "a":
            return self.a
        if side == "b":
            return self.b
        raise ValueError(f"side must be 'a' or 'b', not {side!r}")


class RtpRelay:
    """Opens relayed streams on ``bind_host`` with ports from ``allocator``."""

    def __init__(self, allocator: PortAllocator, bind_host: str,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        ip = ipaddress.ip_address(bind_host)
        self.family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        self.allocator = allocator
        self.bind_host = bind_host
        self._loop = loop
        self._streams: set[RelayStream] = set()
        self._buf = bytearray(BUFFER_SIZE)  # one buffer for every socket: callbacks never overlap
        self._view = memoryview(self._buf)
        self._epoll: select.epoll | None = None
        self._legs_by_fd: dict[int, _Leg] = {}

    def open_stream(self) -> RelayStream:
        """Bind RTP+RTCP sockets for side a and side b; raises ``NoPortsAvailable``."""
        loop = self._loop = self._loop or asyncio.get_running_loop()
        a_port, a_socks = self.allocator.allocate_bound(self._bind_pair)
        try:
            b_port, b_socks = self.allocator.allocate_bound(self._bind_pair)
        except NoPortsAvailable:
            for sock in a_socks:
                sock.close()
            self.allocator.release(a_port)
            raise
        legs = tuple(_Leg(sock, kind, self._buf, self._view, loop.time)
                     for sock, kind in zip((*a_socks, *b_socks), ("rtp", "rtcp") * 2, strict=True))
        a_rtp, a_rtcp, b_rtp, b_rtcp = legs
        a_rtp.peer, b_rtp.peer, a_rtcp.peer, b_rtcp.peer = b_rtp, a_rtp, b_rtcp, a_rtcp
        stream = RelayStream(self, loop, RelayEndpoint(a_port, a_rtp, a_rtcp),
                             RelayEndpoint(b_port, b_rtp, b_rtcp), legs)
        for leg in legs:
            self._watch(loop, leg)
        self._streams.add(stream)
        return stream

    def streams(self) -> int:
        return len(self._streams)

    def close(self) -> None:
        """Close every open stream (the relay can open new ones afterwards)."""
        for stream in list(self._streams):
            stream.close()
        if self._epoll is not None:
            self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._epoll = None

    def _watch(self, loop: asyncio.AbstractEventLoop, leg: _Leg) -> None:
        if not hasattr(select, "epoll"):  # not Linux: one loop reader per socket
            loop.add_reader(leg.fd, leg.on_readable)
            return
        if self._epoll is None:
            self._epoll = select.epoll()
            loop.add_reader(self._epoll.fileno(), self._on_ready)
        self._legs_by_fd[leg.fd] = leg
        self._epoll.register(leg.fd, select.EPOLLIN)

    def _unwatch(self, leg: _Leg) -> None:
        if self._epoll is None:
            self._loop.remove_reader(leg.fd)
            return
        del self._legs_by_fd[leg.fd]
        self._epoll.unregister(leg.fd)

    def _on_ready(self) -> None:
        legs = self._legs_by_fd
        poll = self._epoll.poll
        for _ in range(DRAIN_ROUNDS):
            try:
                ready = poll(0, EVENTS_MAX)
            except InterruptedError:
                return
            if not ready:
                return
            for fd, _ in ready:
                leg = legs.get(fd)
                if leg is not None:
                    leg.on_readable()
            if len(ready) < BUSY_ROUND:
                return  # light load: if more came, the loop reports our epoll fd again

    def _closed(self, stream: RelayStream) -> None:
        self._streams.discard(stream)
        self.allocator.release(stream.a.local_port)
        self.allocator.release(stream.b.local_port)

    def _bind_pair(self, port: int) -> tuple[socket.socket, socket.socket]:
        socks: list[socket.socket] = []
        try:
            for p in (port, port + 1):
                sock = socket.socket(self.family, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.setblocking(False)
                if self.family == socket.AF_INET:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, TOS_EF)
                else:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, TOS_EF)
                sock.bind((self.bind_host, p))
        except OSError:
            for sock in socks:
                sock.close()
            raise
        return socks[0], socks[1]


def _sockaddr(host: str, port: int) -> tuple:
    """The address tuple ``recvfrom`` reports, so it compares equal to a packet's source."""
    if ":" in host:
        return (host, port, 0, 0)
    return (host, port)


def _addr_text(addr: tuple | None) -> str | None:
    if addr is None:
        return None
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
