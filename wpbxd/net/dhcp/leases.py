"""The DHCP server's lease state machine (RFC 2131 4.3), sans-IO.

Responsible for: deciding what to answer to each client message — DISCOVER, REQUEST
(selecting, init-reboot, renewing, rebinding), DECLINE, RELEASE, INFORM — from the
pool configuration, the lease table and the time passed in. It returns *actions*
in the order they must happen: ``Commit`` (persist a lease record: the adapter
makes it durable **before** sending the ``Reply`` that follows it), ``Reply``,
``Probe`` (check that an address is unused before offering it; the adapter answers
with ``probe_result``), ``Granted`` (news for the event bus) and ``Dropped``
(a message ignored on purpose, with the reason, for counters and logs).

Rules: an address is never offered or acknowledged to a client while another
client holds it (bound and unexpired, or offered and the offer still pending);
declined and conflicting addresses are held back for ``decline_hold`` seconds;
fresh addresses are used before expired ones are reclaimed, oldest expiry first.

It must not: touch sockets, clocks or the store; it only reads its inputs.
"""

import heapq
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from wpbxd.net.dhcp import codec
from wpbxd.net.dhcp.codec import DhcpMessage

OFFER_HOLD = 30.0          # seconds an offered address stays reserved for its client
DECLINE_HOLD = 3600.0      # seconds a declined / conflicting address is not handed out
MAX_PROBE_RETRIES = 3      # conflicting addresses skipped for one DISCOVER before giving up
CLIENT_PORT = 68
SERVER_PORT = 67
BROADCAST = "255.255.255.255"

BOUND = "bound"
RELEASED = "released"
DECLINED = "declined"
CONFLICT = "conflict"      # a probe found the address in use by a host we did not lease it to


@dataclass(frozen=True)
class PoolConfig:
    """Everything of the seed's "Serveur DHCP" page for one interface, plus provisioning."""

    interface: str
    server_ip: str
    subnet: str                          # e.g. "10.135.0.0/24"
    range_start: str
    range_end: str
    lease_time: int = 3600               # seconds
    max_leases: int = 200
    refuse_unknown: bool = False
    domain: str = ""
    gateway: str = ""
    dns: tuple[str, ...] = ()
    ntp: tuple[str, ...] = ()
    wins: tuple[str, ...] = ()
    tftp_server: str = ""                # option 66 (name or address, as text)
    tftp_addresses: tuple[str, ...] = () # option 150
    provisioning_url: str = ""           # option 160
    vendor_options: tuple[tuple[str, bytes], ...] = ()  # (vendor-class prefix, option 43 bytes)
    probe: bool = True
    decline_hold: float = DECLINE_HOLD
    offer_hold: float = OFFER_HOLD


@dataclass(frozen=True)
class Lease:
    ip: str
    mac: str
    state: str
    expires: float                       # unix seconds
    hostname: str = ""
    vendor_class: str = ""
    client_id: str = ""
    interface: str = ""


@dataclass(frozen=True)
class Commit:
    lease: Lease


@dataclass(frozen=True)
class Reply:
    message: DhcpMessage
    dest_ip: str
    dest_port: int
    max_size: int = codec.DEFAULT_MAX_MESSAGE


@dataclass(frozen=True)
class Probe:
    ip: str
    request: DhcpMessage
    attempt: int = 0


@dataclass(frozen=True)
class Granted:
    lease: Lease


@dataclass(frozen=True)
class Dropped:
    reason: str


Action = Commit | Reply | Probe | Granted | Dropped


@dataclass
class _Offer:
    mac: str
    expires: float
    probing: bool = False
    attempt: int = 0
    stale: list[int] = field(default_factory=list)


def _int(address: str) -> int:
    return int.from_bytes(socket.inet_aton(address), "big")


def _text(ip: int) -> str:
    return socket.inet_ntoa(ip.to_bytes(4, "big"))


class LeaseMachine:
    """One pool on one interface. ``known`` tells whether a MAC is a known device."""

    def __init__(self, config: PoolConfig, leases: Iterable[Lease] = (),
                 known: Callable[[str], bool] = lambda mac: False) -> None:
        self.config = config
        self.known = known
        net = ipaddress.IPv4Network(config.subnet, strict=False)
        self._net = net
        self._start = int(ipaddress.IPv4Address(config.range_start))
        self._end = int(ipaddress.IPv4Address(config.range_end))
        self._server = ipaddress.IPv4Address(config.server_ip)
        self._server_int = int(self._server)
        self._server_text = str(self._server)
        self._mask = int(net.netmask)
        self._network = int(net.network_address)
        self._static_options = self._configured_options()
        self._records: dict[int, Lease] = {}
        self._by_mac: dict[str, int] = {}
        self._offers: dict[int, _Offer] = {}
        self._offer_heap: list[tuple[float, int]] = []
        self._offer_by_mac: dict[str, int] = {}
        self._active: set[int] = set()
        self._active_heap: list[tuple[float, int]] = []
        self._cursor = self._start
        for lease in leases:
            self._store(lease)

    # -- queries ------------------------------------------------------------------
    def leases(self) -> list[Lease]:
        return [self._records[ip] for ip in sorted(self._records)]

    def active_count(self, now: float) -> int:
        self._expire_active(now)
        return len(self._active)

    # -- entry points ---------------------------------------------------------------
    def handle(self, msg: DhcpMessage, now: float) -> list[Action]:
        if msg.op != codec.BOOTREQUEST:
            return [Dropped("not a request")]
        if msg.htype != codec.HTYPE_ETHER or len(msg.chaddr) != 6:
            return [Dropped("not an Ethernet client")]
        kind = msg.message_type
        if kind == codec.DISCOVER:
            return self._discover(msg, now)
        if kind == codec.REQUEST:
            return self._request(msg, now)
        if kind == codec.DECLINE:
            return self._decline(msg, now)
        if kind == codec.RELEASE:
            return self._release(msg, now)
        if kind == codec.INFORM:
            return self._inform(msg)
        return [Dropped(f"message type {kind} not handled by a server")]

    def probe_result(self, probe: Probe, in_use: bool, now: float) -> list[Action]:
        """The adapter's answer to a ``Probe``: offer the address, or skip it."""
        mac = probe.request.mac
        ip = _int(probe.ip)
        offer = self._offers.get(ip)
        if offer is None or offer.mac != mac:
            return [Dropped("probe answered after the offer was withdrawn")]
        if not in_use:
            offer.probing = False
            offer.expires = now + self.config.offer_hold
            heapq.heappush(self._offer_heap, (offer.expires, ip))
            return [self._reply(probe.request, codec.OFFER, probe.ip, now)]
        self._drop_offer(ip)
        conflict = Lease(ip=probe.ip, mac="", state=CONFLICT, expires=now + self.config.decline_hold,
                         interface=self.config.interface)
        self._store(conflict)
        actions: list[Action] = [Commit(conflict)]
        if probe.attempt + 1 >= MAX_PROBE_RETRIES:
            return [*actions, Dropped(f"{MAX_PROBE_RETRIES} addresses in a row are in use")]
        return [*actions, *self._discover(probe.request, now, attempt=probe.attempt + 1)]

    # -- DISCOVER -----------------------------------------------------------------
    def _discover(self, msg: DhcpMessage, now: float, attempt: int = 0) -> list[Action]:
        mac = msg.mac
        if self.config.refuse_unknown and not self.known(mac):
            return [Dropped(f"unknown client {mac} refused")]
        ip = self._choose(msg, now)
        if ip is None:
            return [Dropped("no free address in the range")]
        holds = self._holds_lease(mac, now)
        if not holds and self._offer_by_mac.get(mac) != ip and self._load(now) >= self.config.max_leases:
            return [Dropped(f"max leases ({self.config.max_leases}) reached")]
        address = _text(ip)
        mine = self._records.get(ip)
        probe = self.config.probe and not (mine and mine.mac == mac)
        self._hold_offer(ip, mac, now, probing=probe, attempt=attempt)
        if probe:
            return [Probe(address, msg, attempt)]
        return [self._reply(msg, codec.OFFER, address, now)]

    def _choose(self, msg: DhcpMessage, now: float) -> int | None:
        mac = msg.mac
        for candidate in (self._offer_by_mac.get(mac), self._by_mac.get(mac)):
            if candidate is not None and self._free_for(candidate, mac, now):
                return candidate
        requested = msg.ip_option(codec.OPT_REQUESTED_IP)
        if requested:
            wanted = _int(requested)
            if self._free_for(wanted, mac, now):
                return wanted
        return self._fresh(now) or self._reclaim(mac, now)

    def _fresh(self, now: float) -> int | None:
        size = self._end - self._start + 1
        for _ in range(size):
            ip = self._cursor
            self._cursor = self._start if ip >= self._end else ip + 1
            if ip not in self._records and not self._offered_to_other(ip, "", now) \
                    and ip != self._server_int:
                return ip
        return None

    def _reclaim(self, mac: str, now: float) -> int | None:
        best: tuple[float, int] | None = None
        for ip, lease in self._records.items():
            if lease.expires <= now and self._free_for(ip, mac, now):
                if best is None or lease.expires < best[0]:
                    best = (lease.expires, ip)
        return best[1] if best else None

    # -- REQUEST ------------------------------------------------------------------
    def _request(self, msg: DhcpMessage, now: float) -> list[Action]:
        mac = msg.mac
        server_id = msg.ip_option(codec.OPT_SERVER_ID)
        requested = msg.ip_option(codec.OPT_REQUESTED_IP)
        if server_id is not None and server_id != self._server_text:
            ip = self._offer_by_mac.get(mac)
            if ip is not None:
                self._drop_offer(ip)
            return [Dropped(f"client {mac} chose server {server_id}")]
        address = requested or (msg.ciaddr if msg.ciaddr != codec.ZERO_IP else None)
        if address is None:
            return [Dropped("REQUEST without an address")]
        ip = _int(address)
        if self.config.refuse_unknown and not self.known(mac):
            return [self._nak(msg, f"unknown client {mac}")]
        if ip & self._mask != self._network:
            return [self._nak(msg, f"{address} is not on this network")]
        if not self._start <= ip <= self._end:
            return [self._nak(msg, f"{address} is outside the range")]
        if server_id is not None and self._offer_by_mac.get(mac) != ip and self._by_mac.get(mac) != ip:
            return [self._nak(msg, f"{address} was not offered to {mac}")]
        if not self._free_for(ip, mac, now):
            return [self._nak(msg, f"{address} belongs to another client")]
        if not self._holds_lease(mac, now) and self._offer_by_mac.get(mac) != ip \
                and self._load(now) >= self.config.max_leases:
            return [self._nak(msg, f"max leases ({self.config.max_leases}) reached")]
        return self._ack(msg, ip, now)

    def _ack(self, msg: DhcpMessage, ip: int, now: float) -> list[Action]:
        mac = msg.mac
        address = _text(ip)
        previous = self._records.get(ip)
        new = not (previous and previous.mac == mac and previous.state == BOUND and previous.expires > now)
        old_ip = self._by_mac.get(mac)
        actions: list[Action] = []
        if old_ip is not None and old_ip != ip:
            old = replace(self._records[old_ip], state=RELEASED, expires=now)
            self._store(old)
            actions.append(Commit(old))
        lease = Lease(
            ip=address, mac=mac, state=BOUND, expires=now + self.config.lease_time,
            hostname=msg.text_option(codec.OPT_HOSTNAME) or (previous.hostname if previous and not new else ""),
            vendor_class=msg.text_option(codec.OPT_VENDOR_CLASS) or "",
            client_id=(msg.option(codec.OPT_CLIENT_ID) or b"").hex(),
            interface=self.config.interface,
        )
        self._drop_offer(ip)
        self._store(lease)
        actions += [Commit(lease), self._reply(msg, codec.ACK, address, now)]
        if new:
            actions.append(Granted(lease))
        return actions

    # -- DECLINE, RELEASE, INFORM -------------------------------------------------
    def _decline(self, msg: DhcpMessage, now: float) -> list[Action]:
        address = msg.ip_option(codec.OPT_REQUESTED_IP)
        server_id = msg.ip_option(codec.OPT_SERVER_ID)
        if address is None or (server_id is not None and server_id != self._server_text):
            return [Dropped("DECLINE not for us")]
        ip = _int(address)
        record = self._records.get(ip)
        offered = self._offers.get(ip)
        if not ((record and record.mac == msg.mac) or (offered and offered.mac == msg.mac)):
            return [Dropped(f"DECLINE of {address} by {msg.mac}, which does not hold it")]
        self._drop_offer(ip)
        lease = Lease(ip=address, mac=msg.mac, state=DECLINED, expires=now + self.config.decline_hold,
                      interface=self.config.interface)
        self._store(lease)
        return [Commit(lease)]

    def _release(self, msg: DhcpMessage, now: float) -> list[Action]:
        if msg.ciaddr == codec.ZERO_IP:
            return [Dropped("RELEASE without ciaddr")]
        ip = _int(msg.ciaddr)
        record = self._records.get(ip)
        if record is None or record.mac != msg.mac or record.state != BOUND:
            return [Dropped(f"RELEASE of {msg.ciaddr} by {msg.mac}, which does not hold it")]
        lease = replace(record, state=RELEASED, expires=now)
        self._store(lease)
        return [Commit(lease)]

    def _inform(self, msg: DhcpMessage) -> list[Action]:
        if msg.ciaddr == codec.ZERO_IP:
            return [Dropped("INFORM without ciaddr")]
        return [self._reply(msg, codec.ACK, codec.ZERO_IP, 0.0, inform=True)]

    # -- replies ------------------------------------------------------------------
    def _reply(self, msg: DhcpMessage, kind: int, yiaddr: str, now: float,
               inform: bool = False) -> Reply:
        cfg = self.config
        options: list[tuple[int, bytes]] = [
            (codec.OPT_MESSAGE_TYPE, bytes((kind,))),
            (codec.OPT_SERVER_ID, self._server.packed),
        ]
        if not inform:
            options += [
                (codec.OPT_LEASE_TIME, codec.u32(cfg.lease_time)),
                (codec.OPT_RENEWAL_T1, codec.u32(cfg.lease_time // 2)),
                (codec.OPT_REBINDING_T2, codec.u32(cfg.lease_time * 7 // 8)),
            ]
        options += self._static_options
        vendor = msg.text_option(codec.OPT_VENDOR_CLASS) or ""
        for prefix, payload in cfg.vendor_options:
            if vendor.startswith(prefix):
                options.append((codec.OPT_VENDOR_SPECIFIC, payload))
                break
        reply = DhcpMessage(
            op=codec.BOOTREPLY, xid=msg.xid, chaddr=msg.chaddr, htype=msg.htype, flags=msg.flags,
            ciaddr=msg.ciaddr, yiaddr=yiaddr, siaddr=self._server_text, giaddr=msg.giaddr,
            options=tuple(options),
        )
        return Reply(reply, *self._destination(msg, kind), max_size=self._max_size(msg))

    def _configured_options(self) -> list[tuple[int, bytes]]:
        """The options that depend only on the configuration (computed once)."""
        cfg = self.config
        options = [
            (codec.OPT_SUBNET_MASK, self._net.netmask.packed),
            (codec.OPT_BROADCAST, self._net.broadcast_address.packed),
        ]
        if cfg.gateway:
            options.append((codec.OPT_ROUTER, codec.ip_bytes(cfg.gateway)))
        if cfg.dns:
            options.append((codec.OPT_DNS, codec.ip_bytes(*cfg.dns)))
        if cfg.domain:
            options.append((codec.OPT_DOMAIN, cfg.domain.encode()))
        if cfg.ntp:
            options.append((codec.OPT_NTP, codec.ip_bytes(*cfg.ntp)))
        if cfg.wins:
            options.append((codec.OPT_WINS, codec.ip_bytes(*cfg.wins)))
        if cfg.tftp_server:
            options.append((codec.OPT_TFTP_SERVER, cfg.tftp_server.encode()))
        if cfg.tftp_addresses:
            options.append((codec.OPT_TFTP_ADDRESSES, codec.ip_bytes(*cfg.tftp_addresses)))
        if cfg.provisioning_url:
            options.append((codec.OPT_PROVISIONING_URL, cfg.provisioning_url.encode()))
        return options

    def _nak(self, msg: DhcpMessage, reason: str) -> Reply:
        reply = DhcpMessage(
            op=codec.BOOTREPLY, xid=msg.xid, chaddr=msg.chaddr, htype=msg.htype, flags=msg.flags,
            giaddr=msg.giaddr,
            options=((codec.OPT_MESSAGE_TYPE, bytes((codec.NAK,))),
                     (codec.OPT_SERVER_ID, self._server.packed),
                     (codec.OPT_MESSAGE, reason.encode()[:200])),
        )
        return Reply(reply, *self._destination(msg, codec.NAK))

    @staticmethod
    def _destination(msg: DhcpMessage, kind: int) -> tuple[str, int]:
        """RFC 2131 4.1: relay first, then ciaddr, else broadcast (NAKs always broadcast)."""
        if msg.giaddr != codec.ZERO_IP:
            return msg.giaddr, SERVER_PORT
        if kind != codec.NAK and msg.ciaddr != codec.ZERO_IP:
            return msg.ciaddr, CLIENT_PORT
        return BROADCAST, CLIENT_PORT

    @staticmethod
    def _max_size(msg: DhcpMessage) -> int:
        value = msg.option(codec.OPT_MAX_MESSAGE_SIZE)
        if value and len(value) == 2:
            return max(int.from_bytes(value, "big"), codec.DEFAULT_MAX_MESSAGE)
        return codec.DEFAULT_MAX_MESSAGE

    # -- bookkeeping ----------------------------------------------------------------
    def _store(self, lease: Lease) -> None:
        ip = _int(lease.ip)
        previous = self._records.get(ip)
        if previous and self._by_mac.get(previous.mac) == ip:
            del self._by_mac[previous.mac]
        self._records[ip] = lease
        if lease.mac and lease.state in (BOUND, RELEASED):
            self._by_mac[lease.mac] = ip
        if lease.state == BOUND:
            self._active.add(ip)
            heapq.heappush(self._active_heap, (lease.expires, ip))
        else:
            self._active.discard(ip)

    def _expire_active(self, now: float) -> None:
        heap = self._active_heap
        while heap and heap[0][0] <= now:
            _, ip = heapq.heappop(heap)
            record = self._records.get(ip)
            if record is None or record.state != BOUND or record.expires <= now:
                self._active.discard(ip)

    def _load(self, now: float) -> int:
        """Addresses in use: unexpired bound leases plus pending offers (an offer of a
        client's own bound address counts twice: conservative, and it is short-lived)."""
        self._expire_active(now)
        heap = self._offer_heap
        while heap and heap[0][0] <= now:
            _, ip = heapq.heappop(heap)
            offer = self._offers.get(ip)
            if offer is not None and offer.expires <= now and not offer.probing:
                self._drop_offer(ip)
        return len(self._active) + len(self._offers)

    def _holds_lease(self, mac: str, now: float) -> bool:
        ip = self._by_mac.get(mac)
        record = self._records.get(ip) if ip is not None else None
        return bool(record and record.state == BOUND and record.expires > now)

    def _offered_to_other(self, ip: int, mac: str, now: float) -> bool:
        offer = self._offers.get(ip)
        if offer is None:
            return False
        if offer.expires <= now and not offer.probing:
            self._drop_offer(ip)
            return False
        return offer.mac != mac

    def _free_for(self, ip: int, mac: str, now: float) -> bool:
        if not self._start <= ip <= self._end or ip == self._server_int:
            return False
        if self._offered_to_other(ip, mac, now):
            return False
        record = self._records.get(ip)
        if record is None or record.mac == mac and record.state in (BOUND, RELEASED):
            return True
        return record.expires <= now

    def _hold_offer(self, ip: int, mac: str, now: float, probing: bool, attempt: int) -> None:
        old = self._offer_by_mac.get(mac)
        if old is not None and old != ip:
            self._drop_offer(old)
        self._offers[ip] = _Offer(mac=mac, expires=now + self.config.offer_hold,
                                  probing=probing, attempt=attempt)
        heapq.heappush(self._offer_heap, (now + self.config.offer_hold, ip))
        self._offer_by_mac[mac] = ip

    def _drop_offer(self, ip: int) -> None:
        offer = self._offers.pop(ip, None)
        if offer is not None and self._offer_by_mac.get(offer.mac) == ip:
            del self._offer_by_mac[offer.mac]
