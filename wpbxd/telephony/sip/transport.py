"""asyncio transports for SIP: UDP and TCP (TLS plugs in as another stream transport).

Responsible for moving bytes only: datagrams and framed stream messages go up to
one ``on_message(data, target, reliable)`` callback; ``send(data, target)`` sends.
Nothing here parses SIP beyond framing.

The UDP path is a plain non-blocking socket with ``loop.add_reader`` reading into
one reused buffer, several datagrams per wake-up (a stock ``DatagramProtocol``
reads into a fresh 256 KiB buffer per datagram, which costs page faults).
TCP keeps one connection per peer address; a ``send`` to a peer without a
connection opens one. TLS would be a ``TcpTransport`` with an ``ssl`` context
(``ssl_context`` below is the seam) registered under the name ``tls``.
"""

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable

from wpbxd.telephony.sip.message import ParseError, StreamFramer

log = logging.getLogger(__name__)

UDP_BUFFER = 65536           # bytes: the largest datagram we read
UDP_SOCKET_BUFFER = 4 << 20  # bytes: kernel receive/send buffer asked for
DRAIN_MAX = 64               # datagrams read per wake-up before yielding to the loop
TCP_IDLE_LIMIT = 3600.0      # seconds a TCP connection may stay idle (not enforced yet)

Target = tuple[str, str, int]
OnMessage = Callable[[bytes, Target, bool], None]


class UdpTransport:
    name = "udp"

    def __init__(self, host: str, port: int, on_message: OnMessage) -> None:
        self.host = host
        self.port = port
        self.on_message = on_message
        self.sock: socket.socket | None = None
        self._buf = bytearray(UDP_BUFFER)
        self._view = memoryview(self._buf)
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, UDP_SOCKET_BUFFER)
            except OSError:
                pass
        sock.bind((self.host, self.port))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        sock = self.sock
        if sock is None:
            return
        view = self._view
        deliver = self.on_message
        for _ in range(DRAIN_MAX):
            try:
                n, addr = sock.recvfrom_into(self._buf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:       # ICMP errors surface here on Linux
                log.debug("udp receive error: %s", err)
                continue
            if n == 0:
                continue
            try:
                deliver(bytes(view[:n]), ("udp", addr[0], addr[1]), False)
            except Exception:
                log.exception("SIP message from %s:%s could not be handled", addr[0], addr[1])

    def send(self, data: bytes, target: Target) -> None:
        if self.sock is None:
            return
        try:
            self.sock.sendto(data, (target[1], target[2]))
        except (BlockingIOError, InterruptedError):
            log.warning("udp send buffer full: dropped %d bytes to %s:%s", len(data), target[1], target[2])
        except OSError as err:
            log.debug("udp send to %s:%s failed: %s", target[1], target[2], err)

    def close(self) -> None:
        if self.sock is not None and self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None


class _StreamConnection(asyncio.Protocol):
    def __init__(self, owner: "TcpTransport") -> None:
        self.owner = owner
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1])
        self.owner.connections[self.peer] = self

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.framer.feed(data)
        except ParseError as err:
            log.info("%s from %s:%s: %s; closing the connection", self.owner.name, *self.peer, err.reason)
            if self.transport is not None:
                self.transport.close()
            return
        target = (self.owner.name, self.peer[0], self.peer[1])
        for message in messages:
            try:
                self.owner.on_message(message, target, True)
            except Exception:
                log.exception("SIP message from %s:%s could not be handled", *self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.owner.connections.get(self.peer) is self:
            del self.owner.connections[self.peer]

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class TcpTransport:
    name = "tcp"

    def __init__(self, host: str, port: int, on_message: OnMessage,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self.on_message = on_message
        self.ssl_context = ssl_context
        self.connections: dict[tuple[str, int], _StreamConnection] = {}
        self._server: asyncio.AbstractServer | None = None
        self._pending: dict[tuple[str, int], list[bytes]] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _StreamConnection(self), self.host, self.port,
                                                ssl=self.ssl_context, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    def send(self, data: bytes, target: Target) -> None:
        peer = (target[1], target[2])
        conn = self.connections.get(peer)
        if conn is not None:
            conn.write(data)
            return
        queue = self._pending.get(peer)
        if queue is not None:
            queue.append(data)
            return
        self._pending[peer] = [data]
        asyncio.get_running_loop().create_task(self._connect(peer))

    async def _connect(self, peer: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _StreamConnection(self), peer[0], peer[1],
                                                   ssl=self.ssl_context)
        except OSError as err:
            log.info("%s connection to %s:%s failed: %s", self.name, peer[0], peer[1], err)
            self._pending.pop(peer, None)
            return
        for data in self._pending.pop(peer, []):
            conn.write(data)

    async def close(self) -> None:
        for conn in list(self.connections.values()):
            if conn.transport is not None:
                conn.transport.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
