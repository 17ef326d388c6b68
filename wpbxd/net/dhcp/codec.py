"""DHCPv4 wire format (RFC 2131 BOOTP header, RFC 2132 options, RFC 3396 long options).

Responsible for: turning datagram bytes into a ``DhcpMessage`` and back, with strict
bounds checks. Every malformed input (truncated header, wrong magic cookie, an
option running past the end of its area, a bad overload value, a bad message type)
raises ``MalformedPacket`` with a short reason — never ``IndexError`` or
``struct.error``. Options that appear several times are concatenated (RFC 3396);
values longer than 255 bytes are split on output. When the options do not fit the
client's maximum message size, the ``file`` and ``sname`` fields are used for
overflow (option 52, RFC 2132 9.3).

It must not: touch sockets, clocks or the store, or decide anything about leases.
"""

import socket
import struct
from dataclasses import dataclass, field, replace

# -- constants ------------------------------------------------------------------
BOOTREQUEST = 1
BOOTREPLY = 2
HTYPE_ETHER = 1
MAGIC_COOKIE = b"\x63\x82\x53\x63"
HEADER_FORMAT = "!BBBBIHH4s4s4s4s16s64s128s"
HEADER_LEN = struct.calcsize(HEADER_FORMAT)          # 236 bytes
OPTIONS_OFFSET = HEADER_LEN + len(MAGIC_COOKIE)      # 240 bytes
SNAME_LEN = 64
FILE_LEN = 128
MIN_BOOTP_LEN = 300          # bytes; RFC 1542 2.1: pad short replies for old relays
DEFAULT_MAX_MESSAGE = 576    # bytes of IP datagram every client accepts (RFC 2131 2)
IP_UDP_OVERHEAD = 28         # bytes of IPv4 + UDP headers
MAX_OPTION_CHUNK = 255       # bytes per option instance (RFC 3396)
FLAG_BROADCAST = 0x8000

# option codes (RFC 2132 unless noted)
OPT_PAD = 0
OPT_SUBNET_MASK = 1
OPT_ROUTER = 3
OPT_DNS = 6
OPT_HOSTNAME = 12
OPT_DOMAIN = 15
OPT_BROADCAST = 28
OPT_NTP = 42
OPT_VENDOR_SPECIFIC = 43
OPT_WINS = 44
OPT_REQUESTED_IP = 50
OPT_LEASE_TIME = 51
OPT_OVERLOAD = 52
OPT_MESSAGE_TYPE = 53
OPT_SERVER_ID = 54
OPT_PARAMETER_LIST = 55
OPT_MESSAGE = 56
OPT_MAX_MESSAGE_SIZE = 57
OPT_RENEWAL_T1 = 58
OPT_REBINDING_T2 = 59
OPT_VENDOR_CLASS = 60
OPT_CLIENT_ID = 61
OPT_TFTP_SERVER = 66           # TFTP server name (text)
OPT_BOOTFILE = 67
OPT_TFTP_ADDRESSES = 150       # RFC 5859: TFTP server addresses (phones)
OPT_PROVISIONING_URL = 160     # commonly used by phones for a provisioning URL
OPT_END = 255

OVERLOAD_FILE = 1
OVERLOAD_SNAME = 2
OVERLOAD_BOTH = 3

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
MESSAGE_TYPES = {
    DISCOVER: "DISCOVER", OFFER: "OFFER", REQUEST: "REQUEST", DECLINE: "DECLINE",
    ACK: "ACK", NAK: "NAK", RELEASE: "RELEASE", INFORM: "INFORM",
}
ZERO_IP = "0.0.0.0"


class MalformedPacket(ValueError):
    """The bytes are not a valid DHCP message; ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DhcpMessage:
    """One BOOTP/DHCP message; ``options`` keeps first-appearance order, values joined."""

    op: int
    xid: int
    chaddr: bytes                      # hardware address (hlen bytes, 6 for Ethernet)
    htype: int = HTYPE_ETHER
    hops: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: str = ZERO_IP
    yiaddr: str = ZERO_IP
    siaddr: str = ZERO_IP
    giaddr: str = ZERO_IP
    sname: bytes = b""
    file: bytes = b""
    options: tuple[tuple[int, bytes], ...] = field(default=())

    def option(self, code: int) -> bytes | None:
        for key, value in self.options:
            if key == code:
                return value
        return None

    def with_options(self, options: list[tuple[int, bytes]]) -> "DhcpMessage":
        return replace(self, options=tuple(options))

    @property
    def message_type(self) -> int | None:
        value = self.option(OPT_MESSAGE_TYPE)
        return value[0] if value and len(value) == 1 else None

    @property
    def mac(self) -> str:
        return ":".join(f"{b:02x}" for b in self.chaddr)

    @property
    def broadcast(self) -> bool:
        return bool(self.flags & FLAG_BROADCAST)

    def ip_option(self, code: int) -> str | None:
        value = self.option(code)
        if value is None or len(value) != 4:
            return None
        return socket.inet_ntoa(value)

    def text_option(self, code: int) -> str | None:
        value = self.option(code)
        if value is None:
            return None
        return value.rstrip(b"\0").decode("utf-8", errors="replace")


# -- option value helpers ---------------------------------------------------------
def ip_bytes(*addresses: str) -> bytes:
    try:
        return b"".join(socket.inet_aton(a) for a in addresses)
    except OSError:
        raise ValueError(f"not IPv4 addresses: {addresses!r}") from None


def ip_list(value: bytes) -> list[str]:
    if len(value) % 4:
        raise MalformedPacket("address list length is not a multiple of 4")
    return [socket.inet_ntoa(value[i:i + 4]) for i in range(0, len(value), 4)]


def u32(value: int) -> bytes:
    return struct.pack("!I", value)


def read_u32(value: bytes) -> int:
    if len(value) != 4:
        raise MalformedPacket("32-bit option is not 4 bytes long")
    return struct.unpack("!I", value)[0]


# -- parsing ----------------------------------------------------------------------
def _walk_options(area: bytes, where: str, out: dict[int, bytearray], order: list[int],
                  stop_at_end: bool) -> bool:
    """Read the options of one area into ``out``; return whether END was seen."""
    i = 0
    size = len(area)
    while i < size:
        code = area[i]
        if code == OPT_PAD:
            i += 1
            continue
        if code == OPT_END:
            return True
        if i + 1 >= size:
            raise MalformedPacket(f"option {code} in {where} has no length byte")
        length = area[i + 1]
        start = i + 2
        if start + length > size:
            raise MalformedPacket(
                f"option {code} in {where} claims {length} bytes, only {size - start} left")
        if code not in out:
            out[code] = bytearray()
            order.append(code)
        out[code] += area[start:start + length]
        i = start + length
    if stop_at_end:
        raise MalformedPacket(f"no END option in {where}")
    return False


def _ip(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def parse(data: bytes) -> DhcpMessage:
    """Decode one datagram; raises ``MalformedPacket`` when anything is wrong."""
    if len(data) < OPTIONS_OFFSET:
        raise MalformedPacket(f"truncated: {len(data)} bytes, header needs {OPTIONS_OFFSET}")
    (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr,
     chaddr, sname, file) = struct.unpack_from(HEADER_FORMAT, data)
    if data[HEADER_LEN:OPTIONS_OFFSET] != MAGIC_COOKIE:
        raise MalformedPacket("wrong magic cookie")
    if op not in (BOOTREQUEST, BOOTREPLY):
        raise MalformedPacket(f"bad op {op}")
    if hlen > len(chaddr):
        raise MalformedPacket(f"hardware address length {hlen} exceeds 16")
    out: dict[int, bytearray] = {}
    order: list[int] = []
    _walk_options(data[OPTIONS_OFFSET:], "options", out, order, stop_at_end=True)
    overload = out.get(OPT_OVERLOAD)
    file_used = sname_used = False
    if overload is not None:
        if len(overload) != 1 or overload[0] not in (OVERLOAD_FILE, OVERLOAD_SNAME, OVERLOAD_BOTH):
            raise MalformedPacket("bad option overload value")
        # RFC 3396 5: options, then file, then sname.
        if overload[0] & OVERLOAD_FILE:
            _walk_options(file, "file", out, order, stop_at_end=True)
            file_used = True
        if overload[0] & OVERLOAD_SNAME:
            _walk_options(sname, "sname", out, order, stop_at_end=True)
            sname_used = True
    message_type = out.get(OPT_MESSAGE_TYPE)
    if message_type is not None and (len(message_type) != 1 or message_type[0] not in MESSAGE_TYPES):
        raise MalformedPacket("bad DHCP message type")
    return DhcpMessage(
        op=op, htype=htype, hops=hops, xid=xid, secs=secs, flags=flags,
        ciaddr=_ip(ciaddr), yiaddr=_ip(yiaddr), siaddr=_ip(siaddr), giaddr=_ip(giaddr),
        chaddr=chaddr[:hlen],
        sname=b"" if sname_used else sname.rstrip(b"\0"),
        file=b"" if file_used else file.rstrip(b"\0"),
        options=tuple((code, bytes(out[code])) for code in order if code != OPT_OVERLOAD),
    )


# -- serializing ------------------------------------------------------------------
def _encode_option(code: int, value: bytes) -> bytes:
    if not 0 < code < OPT_END:
        raise ValueError(f"option code {code} cannot carry a value")
    if not value:
        return bytes((code, 0))
    chunks = [value[i:i + MAX_OPTION_CHUNK] for i in range(0, len(value), MAX_OPTION_CHUNK)]
    return b"".join(bytes((code, len(chunk))) + chunk for chunk in chunks)


def _fill(encoded: list[bytes], room: int) -> tuple[bytes, list[bytes]]:
    """Pack whole encoded options into ``room`` bytes (END included); return the rest."""
    used = bytearray()
    rest = list(encoded)
    while rest and len(used) + len(rest[0]) + 1 <= room:
        used += rest.pop(0)
    return bytes(used) + bytes((OPT_END,)), rest


def serialize(msg: DhcpMessage, max_size: int = DEFAULT_MAX_MESSAGE) -> bytes:
    """Encode ``msg``; overflow goes to ``file`` then ``sname`` if the datagram would exceed
    ``max_size`` (IP datagram size, as in option 57). Raises ``ValueError`` if it cannot fit.
    """
    if len(msg.chaddr) > 16 or len(msg.sname) > SNAME_LEN or len(msg.file) > FILE_LEN:
        raise ValueError("chaddr, sname or file too long")
    encoded = [_encode_option(code, value) for code, value in msg.options]
    room = max(max_size - IP_UDP_OVERHEAD - OPTIONS_OFFSET, 0)
    total = sum(len(e) for e in encoded) + 1
    sname, file = msg.sname, msg.file
    if total <= room:
        options = b"".join(encoded) + bytes((OPT_END,))
    else:
        overload_opt = bytes((OPT_OVERLOAD, 1, 0))
        main, rest = _fill(encoded, room - len(overload_opt))
        overload = 0
        if rest and not msg.file:
            file, rest = _fill(rest, FILE_LEN)
            overload |= OVERLOAD_FILE
        if rest and not msg.sname:
            sname, rest = _fill(rest, SNAME_LEN)
            overload |= OVERLOAD_SNAME
        if rest or not overload:
            raise ValueError(f"options do not fit in a {max_size}-byte message")
        options = bytes((OPT_OVERLOAD, 1, overload)) + main
    header = struct.pack(
        HEADER_FORMAT, msg.op, msg.htype, len(msg.chaddr), msg.hops, msg.xid, msg.secs,
        msg.flags, ip_bytes(msg.ciaddr), ip_bytes(msg.yiaddr), ip_bytes(msg.siaddr),
        ip_bytes(msg.giaddr), msg.chaddr, sname, file,
    )
    packet = header + MAGIC_COOKIE + options
    if len(packet) < MIN_BOOTP_LEN:
        packet += bytes(MIN_BOOTP_LEN - len(packet))
    return packet


def mac_bytes(mac: str) -> bytes:
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return bytes(int(p, 16) for p in parts)
