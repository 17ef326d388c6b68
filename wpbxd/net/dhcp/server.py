"""The asyncio DHCP server: one UDP socket per interface around a ``LeaseMachine``.

Responsible for: receiving datagrams on port 67 of one interface (``SO_BINDTODEVICE``),
decoding them (malformed ones are counted and dropped; the server keeps serving),
running the lease machine's actions in order — lease records are committed to the
store in one transaction **before** the replies of the same batch are sent —
broadcasting or unicasting replies (RFC 2131 4.1), ARP-probing addresses before
offering them, and publishing ``LeaseGranted`` on the bus.

It must not: choose addresses or interpret messages (``leases.py`` does), or change
interface configuration.
"""

import asyncio
import logging
import socket
import struct
from collections import Counter
from collections.abc import Callable
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.events import LeaseGranted
from wpbxd.net.dhcp import codec, lease_store
from wpbxd.net.dhcp.codec import MalformedPacket
from wpbxd.net.dhcp.leases import (
    Action,
    Commit,
    Dropped,
    Granted,
    LeaseMachine,
    PoolConfig,
    Probe,
    Reply,
)

log = logging.getLogger(__name__)

SERVER_PORT = 67
RECV_BUFFER = 4096            # bytes; a DHCP datagram is at most 1500 here
BATCH = 64                    # datagrams read per wake-up before committing and replying
PROBE_TIMEOUT = 0.2           # seconds to wait for an ARP reply before offering
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
ETH_P_ARP = 0x0806
ARP_REQUEST, ARP_REPLY = 1, 2
ARP_FORMAT = "!6s6sHHHBBH6s4s6s4s"
ARP_FRAME_LEN = struct.calcsize(ARP_FORMAT)


class ArpProber:
    """Asks 'who has IP?' on one interface and reports whether anyone answered in time."""

    def __init__(self, interface: str, source_ip: str, timeout: float = PROBE_TIMEOUT) -> None:
        self.interface = interface
        self.source_ip = socket.inet_aton(source_ip)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._mac = b""
        self._waiting: dict[bytes, asyncio.Future[bool]] = {}

    def start(self) -> None:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        sock.bind((self.interface, ETH_P_ARP))
        sock.setblocking(False)
        self._mac = sock.getsockname()[4]
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def stop(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for future in self._waiting.values():
            if not future.done():
                future.set_result(False)

    async def in_use(self, ip: str) -> bool:
        if self._sock is None:
            return False
        target = socket.inet_aton(ip)
        future = self._waiting.get(target)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._waiting[target] = future
            frame = struct.pack(ARP_FORMAT, b"\xff" * 6, self._mac, ETH_P_ARP, 1, 0x0800, 6, 4,
                                ARP_REQUEST, self._mac, self.source_ip, bytes(6), target)
            try:
                self._sock.send(frame)
            except OSError as err:
                log.warning("%s: ARP probe of %s not sent: %s", self.interface, ip, err)
            loop.call_later(self.timeout, self._expire, target, future)
        return await future

    def _expire(self, target: bytes, future: "asyncio.Future[bool]") -> None:
        if not future.done():
            future.set_result(False)
        if self._waiting.get(target) is future:
            del self._waiting[target]

    def _readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                frame = self._sock.recv(128)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(frame) < ARP_FRAME_LEN:
                continue
            fields = struct.unpack_from(ARP_FORMAT, frame)
            op, sender_mac, sender_ip = fields[7], fields[8], fields[9]
            if sender_mac == self._mac or op not in (ARP_REQUEST, ARP_REPLY):
                continue
            future = self._waiting.pop(sender_ip, None)
            if future is not None and not future.done():
                future.set_result(True)


class DhcpServer:
    """Serves one pool on one interface."""

    def __init__(self, pool: PoolConfig, store: Store, bus: EventBus | None,
                 clock: Callable[[], float], port: int = SERVER_PORT,
                 probe_timeout: float = PROBE_TIMEOUT) -> None:
        self.pool = pool
        self.store = store
        self.bus = bus
        self.clock = clock
        self.port = port
        self.counters: Counter[str] = Counter()
        self.machine = LeaseMachine(pool, lease_store.load(store, pool.interface),
                                    known=lambda mac: lease_store.is_known(store, mac))
        self._prober = ArpProber(pool.interface, pool.server_ip, probe_timeout) if pool.probe else None
        self._sock: socket.socket | None = None
        self._buffer = bytearray(RECV_BUFFER)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def interface(self) -> str:
        return self.pool.interface

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.interface.encode())
            sock.bind(("0.0.0.0", self.port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        if self._prober is not None:
            try:
                self._prober.start()
            except OSError as err:
                log.warning("%s: no ARP probing (%s); offering without a conflict check",
                            self.interface, err)
                self._prober = None
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        log.info("DHCP server on %s: %s-%s", self.interface, self.pool.range_start, self.pool.range_end)

    async def stop(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._prober is not None:
            self._prober.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def status(self) -> dict[str, Any]:
        return {"interface": self.interface, "range": f"{self.pool.range_start}-{self.pool.range_end}",
                "active_leases": self.machine.active_count(self.clock()), **self.counters}

    # -- receive path -------------------------------------------------------------
    def _readable(self) -> None:
        if self._sock is None:
            return
        actions: list[Action] = []
        for _ in range(BATCH):
            try:
                size, _addr = self._sock.recvfrom_into(self._buffer)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as err:
                log.warning("%s: receive failed: %s", self.interface, err)
                break
            self.counters["received"] += 1
            try:
                msg = codec.parse(bytes(self._buffer[:size]))
            except MalformedPacket as err:
                self.counters["malformed"] += 1
                log.debug("%s: malformed datagram dropped: %s", self.interface, err.reason)
                continue
            actions += self.machine.handle(msg, self.clock())
        self._execute(actions)

    def _execute(self, actions: list[Action]) -> None:
        commits = [a.lease for a in actions if isinstance(a, Commit)]
        if commits:
            try:
                lease_store.commit(self.store, commits)
            except Exception:
                self.counters["store_errors"] += 1
                log.exception("%s: leases not stored; their replies are withheld", self.interface)
                actions = [a for a in actions if not isinstance(a, Granted) and not (
                    isinstance(a, Reply) and a.message.message_type == codec.ACK)]
        for action in actions:
            if isinstance(action, Reply):
                self._send(action)
            elif isinstance(action, Probe):
                self._spawn(self._probe(action))
            elif isinstance(action, Granted):
                self.counters["granted"] += 1
                if self.bus is not None:
                    lease = action.lease
                    self.bus.publish(LeaseGranted(mac=lease.mac, ip=lease.ip,
                                                  hostname=lease.hostname or None,
                                                  vendor_class=lease.vendor_class or None))
            elif isinstance(action, Dropped):
                self.counters["dropped"] += 1
                log.debug("%s: %s", self.interface, action.reason)

    def _send(self, reply: Reply) -> None:
        if self._sock is None:
            return
        kind = codec.MESSAGE_TYPES.get(reply.message.message_type or 0, "?").lower()
        try:
            data = codec.serialize(reply.message, reply.max_size)
            self._sock.sendto(data, (reply.dest_ip, reply.dest_port))
            self.counters[kind] += 1
        except (OSError, ValueError) as err:
            self.counters["send_errors"] += 1
            log.warning("%s: %s to %s not sent: %s", self.interface, kind, reply.dest_ip, err)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _probe(self, probe: Probe) -> None:
        in_use = await self._prober.in_use(probe.ip) if self._prober is not None else False
        if in_use:
            self.counters["conflicts"] += 1
            log.warning("%s: %s answered an ARP probe; not offering it", self.interface, probe.ip)
        self._execute(self.machine.probe_result(probe, in_use, self.clock()))
