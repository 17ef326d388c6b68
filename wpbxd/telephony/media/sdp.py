"""SDP bodies (RFC 4566) and the rewrites the PBX needs for offer/answer (RFC 3264).

Responsible for: parsing an SDP body into records, serialising it back (CRLF line
ends, unknown lines and attribute order kept), the helpers the B2BUA uses to read
a stream (direction, rtpmap, fmtp, hold) and ``rewrite_for_relay``, which anchors
every stream on the PBX's relay ports.

Rule 1: sans-IO. No sockets, no clock, no logging; bytes in, records or bytes out.
Rule 2: ``parse`` raises ``SdpError`` (a ``ValueError``) and nothing else, with a
message that says which line is wrong and why. It is tolerant of what real phones
send (LF-only line ends, blank lines, unknown line types, lines out of order) but
never guesses a value it cannot read.
Rule 3: records are immutable; every rewrite returns a new description.
"""

import dataclasses
import enum
import functools
import ipaddress
from dataclasses import dataclass, field

LINE_TYPES_BEFORE_CONNECTION = frozenset("iuep")  # RFC 4566 §5: v o s i u e p c b t r z k a
MEDIA_LINE_TYPES_BEFORE_CONNECTION = frozenset("i")  # RFC 4566 §5: m i c b k a
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")  # RFC 4566 §6, RFC 3264 §5.1
DEFAULT_DIRECTION = "sendrecv"
MAX_PORT = 65535
MAX_PAYLOAD_TYPE = 127  # RFC 3550 §5.1: 7-bit PT

# Attributes of ICE (RFC 8839) that describe the phone's own transport addresses. A
# relayed stream does not speak ICE, so they are dropped when the PBX anchors media:
# left in, the far phone would run connectivity checks towards the near phone's
# private addresses and bypass (or break) the relay.
ICE_ATTRIBUTES = frozenset(
    {"candidate", "remote-candidates", "ice-ufrag", "ice-pwd", "ice-options", "ice-lite",
     "ice-mismatch", "end-of-candidates", "ice-pacing"}
)

# RFC 3551 §6, table 4: static audio payload types (encoding, clock rate Hz, channels).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
}


class SdpError(ValueError):
    """An SDP body that cannot be used; the message says which line and why."""


class HoldState(enum.Enum):
    """Whether an offer puts the call on hold (RFC 6337 §5.3, RFC 3264 §8.4)."""

    ACTIVE = "active"
    HELD = "held"


@dataclass(frozen=True)
class Origin:
    """The ``o=`` line (RFC 4566 §5.2)."""

    username: str
    sess_id: str
    sess_version: int
    nettype: str
    addrtype: str
    address: str

    def to_line(self) -> str:
        return (f"{self.username} {self.sess_id} {self.sess_version} "
                f"{self.nettype} {self.addrtype} {self.address}")


@dataclass(frozen=True)
class MediaDescription:
    """One ``m=`` section with its lines (RFC 4566 §5.14).

    ``connection`` is the address of this stream's ``c=`` line (``None`` when the
    stream uses the session-level one). ``attributes`` are its ``a=`` lines in
    order, as ``(name, value)``; a flag attribute such as ``a=sendonly`` has the
    value ``None``. ``other_lines`` keeps ``i=``, ``b=``, ``k=`` and unknown lines.
    """

    kind: str
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    port_count: int | None = None
    other_lines: list[tuple[str, str]] = field(default_factory=list)
    connection_nettype: str = "IN"
    connection_addrtype: str = "IP4"
    connection_suffix: str = ""  # multicast "/ttl[/count]", kept as read

    @property
    def direction(self) -> str:
        """This stream's own direction attribute, or ``sendrecv`` when it has none.

        Use ``SessionDescription.media_direction(m)`` to honour a session-level one.
        """
        return self.explicit_direction or DEFAULT_DIRECTION

    @property
    def explicit_direction(self) -> str | None:
        """The direction attribute written in this ``m=`` section, if any."""
        for name, value in self.attributes:
            if value is None and name in DIRECTIONS:
                return name
        return None

    def attribute(self, name: str) -> str | None:
        """The value of the first ``a=name`` (``""`` for a flag), or ``None`` when absent."""
        for attr, value in self.attributes:
            if attr == name:
                return "" if value is None else value
        return None

    def rtpmap(self) -> dict[int, tuple[str, int, int]]:
        """Payload type -> (encoding, clock rate Hz, channels) for each listed format.

        ``a=rtpmap`` lines win; static payload types without one come from
        RFC 3551's table. Formats that are neither (or not numbers) are left out.
        """
        listed: set[int] = set()
        for fmt in self.formats:
            if fmt.isdigit():
                listed.add(int(fmt))
        result: dict[int, tuple[str, int, int]] = {}
        for name, value in self.attributes:
            if name == "rtpmap" and value is not None:
                pt, entry = _parse_rtpmap(value)
                if pt in listed:
                    result[pt] = entry
        for pt in listed:
            if pt not in result and pt in STATIC_PAYLOAD_TYPES:
                result[pt] = STATIC_PAYLOAD_TYPES[pt]
        return {pt: result[pt] for pt in sorted(result, key=_format_order(self.formats))}

    def fmtp(self) -> dict[int, str]:
        """Payload type -> its ``a=fmtp`` parameter string (e.g. ``{101: "0-16"}``)."""
        result: dict[int, str] = {}
        for name, value in self.attributes:
            if name == "fmtp" and value:
                pt_text, _, params = value.partition(" ")
                if pt_text.isdigit():
                    result[int(pt_text)] = params.strip()
        return result

    @property
    def rtcp_port(self) -> int:
        """Where this stream's RTCP goes: ``a=rtcp`` (RFC 3605) when given, else port+1
        (RFC 3550 §11). 0 for a rejected stream."""
        if self.port == 0:
            return 0
        value = self.attribute("rtcp")
        if value:
            first = value.split()[0]
            if first.isdigit() and 0 < int(first) <= MAX_PORT:
                return int(first)
        return self.port + 1

    def with_direction(self, direction: str) -> "MediaDescription":
        """A copy with its direction attribute set to ``direction`` (replacing any)."""
        if direction not in DIRECTIONS:
            raise SdpError(f"unknown direction {direction!r}; expected one of {', '.join(DIRECTIONS)}")
        attrs: list[tuple[str, str | None]] = []
        placed = False
        for name, value in self.attributes:
            if value is None and name in DIRECTIONS:
                if not placed:
                    attrs.append((direction, None))
                    placed = True
                continue
            attrs.append((name, value))
        if not placed:
            attrs.append((direction, None))
        return dataclasses.replace(self, attributes=attrs)

    def with_formats(self, formats: list[str]) -> "MediaDescription":
        """A copy offering only ``formats`` (in that order), without the rtpmap/fmtp
        lines of the formats it drops."""
        kept = set(formats)
        attrs = [
            (name, value)
            for name, value in self.attributes
            if not (name in ("rtpmap", "fmtp") and value is not None
                    and value.partition(" ")[0] not in kept)
        ]
        return dataclasses.replace(self, formats=list(formats), attributes=attrs)


@dataclass(frozen=True)
class SessionDescription:
    """A whole SDP body. ``connection`` is the session-level ``c=`` address."""

    origin: Origin
    connection: str | None = None
    media: list[MediaDescription] = field(default_factory=list)
    session_name: str = "-"
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    other_lines: list[tuple[str, str]] = field(default_factory=list)
    version: int = 0
    connection_nettype: str = "IN"
    connection_addrtype: str = "IP4"
    connection_suffix: str = ""

    @classmethod
    def parse(cls, data: bytes | str) -> "SessionDescription":
        """Parse an SDP body; raises ``SdpError`` saying what is wrong."""
        return _parse(data)

    def to_bytes(self) -> bytes:
        """The body with CRLF line ends (RFC 4566 §5)."""
        lines = [f"v={self.version}", f"o={self.origin.to_line()}", f"s={self.session_name}"]
        lines += [f"{k}={v}" for k, v in self.other_lines if k in LINE_TYPES_BEFORE_CONNECTION]
        if self.connection is not None:
            lines.append("c=" + _connection_text(self.connection_nettype, self.connection_addrtype,
                                                 self.connection, self.connection_suffix))
        lines += [f"{k}={v}" for k, v in self.other_lines if k not in LINE_TYPES_BEFORE_CONNECTION]
        lines += [_attribute_line(n, v) for n, v in self.attributes]
        for m in self.media:
            port = str(m.port) if m.port_count is None else f"{m.port}/{m.port_count}"
            lines.append(f"m={' '.join([m.kind, port, m.proto, *m.formats])}")
            lines += [f"{k}={v}" for k, v in m.other_lines if k in MEDIA_LINE_TYPES_BEFORE_CONNECTION]
            if m.connection is not None:
                lines.append("c=" + _connection_text(m.connection_nettype, m.connection_addrtype,
                                                     m.connection, m.connection_suffix))
            lines += [f"{k}={v}" for k, v in m.other_lines if k not in MEDIA_LINE_TYPES_BEFORE_CONNECTION]
            lines += [_attribute_line(n, v) for n, v in m.attributes]
        return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape")

    @property
    def session_direction(self) -> str | None:
        """The session-level direction attribute, if any."""
        for name, value in self.attributes:
            if value is None and name in DIRECTIONS:
                return name
        return None

    def media_direction(self, m: MediaDescription) -> str:
        """``m``'s direction: its own attribute, else the session's, else sendrecv."""
        return m.explicit_direction or self.session_direction or DEFAULT_DIRECTION

    def media_connection(self, m: MediaDescription) -> str | None:
        """The address ``m``'s RTP goes to: its own ``c=``, else the session's."""
        return m.connection if m.connection is not None else self.connection


def rewrite_for_relay(desc: SessionDescription, address: str, ports: list[int]) -> SessionDescription:
    """Anchor every stream of ``desc`` on the relay at ``address``.

    Connection addresses (session level and each media level present) become
    ``address``; stream ``i`` gets port ``ports[i]`` except a rejected stream (port
    0), which stays 0; the origin's version goes up by one; ``a=rtcp`` becomes
    port+1 on ``address`` (removed from rejected streams); ICE attributes are
    dropped (the relay does not do ICE). Codecs, directions, fmtp, ptime and every
    other line are kept.
    """
    if len(ports) != len(desc.media):
        raise SdpError(f"rewrite_for_relay needs one port per m= line: "
                       f"{len(desc.media)} m= lines, {len(ports)} ports")
    addrtype = _addrtype_of(address)
    if addrtype is None:
        raise SdpError(f"relay address {address!r} is not an IPv4 or IPv6 address")
    media: list[MediaDescription] = []
    for m, port in zip(desc.media, ports, strict=True):
        if m.port != 0 and not 0 < port <= MAX_PORT:
            raise SdpError(f"relay port {port} is out of range 1-{MAX_PORT}")
        new_port = 0 if m.port == 0 else port
        attrs: list[tuple[str, str | None]] = []
        for name, value in m.attributes:
            if name in ICE_ATTRIBUTES:
                continue
            if name == "rtcp":
                if new_port == 0:
                    continue
                value = (f"{new_port + 1} IN {addrtype} {address}"
                         if value is not None and len(value.split()) > 1 else str(new_port + 1))
            attrs.append((name, value))
        media.append(dataclasses.replace(
            m,
            port=new_port,
            attributes=attrs,
            connection=None if m.connection is None else address,
            connection_addrtype=addrtype if m.connection is not None else m.connection_addrtype,
            connection_suffix="" if m.connection is not None else m.connection_suffix,
            other_lines=[(k, v) for k, v in m.other_lines if k != "c"],
        ))
    # Every stream needs a connection; give one at session level when any stream relied on it.
    needs_session_c = desc.connection is not None or any(m.connection is None for m in desc.media)
    session_attrs = [(n, v) for n, v in desc.attributes if n not in ICE_ATTRIBUTES]
    return dataclasses.replace(
        desc,
        origin=dataclasses.replace(desc.origin, sess_version=desc.origin.sess_version + 1),
        connection=address if needs_session_c else None,
        connection_addrtype=addrtype,
        connection_suffix="",
        attributes=session_attrs,
        other_lines=[(k, v) for k, v in desc.other_lines if k != "c"],
        media=media,
    )


def hold_state(desc: SessionDescription) -> HoldState:
    """HELD when every active audio stream is sendonly/inactive or sent to 0.0.0.0
    (the RFC 2543 style still used by old phones); ACTIVE otherwise."""
    streams = [m for m in desc.media if m.port != 0 and m.kind == "audio"] or \
        [m for m in desc.media if m.port != 0]
    if not streams:
        return HoldState.ACTIVE
    for m in streams:
        held = (desc.media_direction(m) in ("sendonly", "inactive")
                or desc.media_connection(m) in ("0.0.0.0", "::"))
        if not held:
            return HoldState.ACTIVE
    return HoldState.HELD


# --- parsing -------------------------------------------------------------------------------


def _parse(data: bytes | str) -> SessionDescription:
    if isinstance(data, bytes | bytearray | memoryview):
        text = bytes(data).decode("utf-8", "surrogateescape")
    elif isinstance(data, str):
        text = data
    else:
        raise SdpError(f"SDP must be bytes or str, not {type(data).__name__}")
    if "\x00" in text:
        raise SdpError("SDP contains a NUL character")
    lines: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise SdpError(f"line {number} is not of the form <type>=<value>: {_show(line)}")
        if line[0] == "s" and line == "s=":
            line = "s= "  # RFC 4566 §5.3: a nameless session is "s= "; keep the space we stripped
        lines.append((number, line[0], line[2:]))
    if not lines:
        raise SdpError("SDP body is empty")
    number, kind, value = lines[0]
    if kind != "v":
        raise SdpError(f"SDP must start with v= (line {number} is {kind}=)")
    if value.strip() != "0":
        raise SdpError(f"unsupported SDP version v={_show(value)} (only v=0 exists)")

    origin: Origin | None = None
    session_name: str | None = None
    session: dict = {"connection": None, "attributes": [], "other": [],
                     "c_extra": ("IN", "IP4", "")}
    media: list[dict] = []
    current = session
    for number, kind, value in lines[1:]:
        if kind == "v":
            raise SdpError(f"line {number}: a second v= line")
        if kind == "m":
            current = _media_start(number, value)
            media.append(current)
        elif kind == "o" and current is session:
            if origin is not None:
                raise SdpError(f"line {number}: a second o= line")
            origin = _parse_origin(number, value)
        elif kind == "s" and current is session:
            if session_name is not None:
                raise SdpError(f"line {number}: a second s= line")
            session_name = value
        elif kind == "c":
            if current["connection"] is not None:
                current["other"].append((kind, value))  # layered multicast: kept as read
                continue
            current["connection"], current["c_extra"] = _parse_connection(number, value)
        elif kind == "a":
            name, sep, attr_value = value.partition(":")
            if not name:
                raise SdpError(f"line {number}: a= line without an attribute name")
            if name == "rtpmap":
                try:
                    _parse_rtpmap(attr_value)
                except SdpError as exc:
                    raise SdpError(f"line {number}: {exc}") from None
            current["attributes"].append((name, attr_value if sep else None))
        else:
            current["other"].append((kind, value))
    if origin is None:
        raise SdpError("SDP has no o= line")
    if session_name is None:
        raise SdpError("SDP has no s= line")
    records: list[MediaDescription] = []
    for index, m in enumerate(media, 1):
        if m["connection"] is None and session["connection"] is None and m["port"] != 0:
            raise SdpError(f"m= line {index} ({m['kind']}) has no c= line and there is no "
                           f"session-level c= line")
        nettype, addrtype, suffix = m["c_extra"]
        records.append(MediaDescription(
            kind=m["kind"], port=m["port"], proto=m["proto"], formats=m["formats"],
            connection=m["connection"], attributes=m["attributes"], port_count=m["port_count"],
            other_lines=m["other"], connection_nettype=nettype, connection_addrtype=addrtype,
            connection_suffix=suffix,
        ))
    nettype, addrtype, suffix = session["c_extra"]
    return SessionDescription(
        origin=origin, connection=session["connection"], media=records, session_name=session_name,
        attributes=session["attributes"], other_lines=session["other"], version=0,
        connection_nettype=nettype, connection_addrtype=addrtype, connection_suffix=suffix,
    )


def _parse_origin(number: int, value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6:
        raise SdpError(f"line {number}: o= needs 6 fields (username sess-id sess-version "
                       f"nettype addrtype address), got {len(parts)}: {_show(value)}")
    username, sess_id, sess_version, nettype, addrtype, address = parts
    if not sess_version.isdigit():
        raise SdpError(f"line {number}: o= sess-version {_show(sess_version)} is not a number")
    return Origin(username, sess_id, int(sess_version), nettype, addrtype, address)


def _parse_connection(number: int, value: str) -> tuple[str, tuple[str, str, str]]:
    parts = value.split()
    if len(parts) != 3:
        raise SdpError(f"line {number}: c= needs 3 fields (nettype addrtype address), "
                       f"got {len(parts)}: {_show(value)}")
    nettype, addrtype, address = parts
    if nettype != "IN":
        raise SdpError(f"line {number}: c= network type {_show(nettype)} is not IN")
    if addrtype not in ("IP4", "IP6"):
        raise SdpError(f"line {number}: c= address type {_show(addrtype)} is not IP4 or IP6")
    host, slash, suffix = address.partition("/")
    if not host:
        raise SdpError(f"line {number}: c= has an empty address")
    return host, (nettype, addrtype, slash + suffix)


def _media_start(number: int, value: str) -> dict:
    parts = value.split()
    if len(parts) < 3:
        raise SdpError(f"line {number}: m= needs media, port, proto and formats: {_show(value)}")
    kind, port_text, proto, *formats = parts
    port_part, slash, count_part = port_text.partition("/")
    if not port_part.isdigit() or int(port_part) > MAX_PORT:
        raise SdpError(f"line {number}: m= port {_show(port_text)} is not a port number (0-{MAX_PORT})")
    port_count = None
    if slash:
        if not count_part.isdigit() or int(count_part) < 1:
            raise SdpError(f"line {number}: m= port count {_show(count_part)} is not a positive number")
        port_count = int(count_part)
    port = int(port_part)
    if not formats and port != 0:
        raise SdpError(f"line {number}: m= line lists no formats: {_show(value)}")
    if "RTP" in proto.upper():
        for fmt in formats:
            if not fmt.isdigit() or int(fmt) > MAX_PAYLOAD_TYPE:
                raise SdpError(f"line {number}: m= format {_show(fmt)} is not an RTP payload "
                               f"type (0-{MAX_PAYLOAD_TYPE})")
    return {"kind": kind, "port": port, "proto": proto, "formats": formats, "port_count": port_count,
            "connection": None, "attributes": [], "other": [], "c_extra": ("IN", "IP4", "")}


def _parse_rtpmap(value: str) -> tuple[int, tuple[str, int, int]]:
    pt_text, _, rest = value.strip().partition(" ")
    if not pt_text.isdigit() or int(pt_text) > MAX_PAYLOAD_TYPE:
        raise SdpError(f"a=rtpmap payload type {_show(pt_text)} is not 0-{MAX_PAYLOAD_TYPE}")
    fields = rest.strip().split("/")
    if len(fields) < 2 or not fields[0] or not fields[1].isdigit():
        raise SdpError(f"a=rtpmap needs <encoding>/<clock rate>[/<channels>]: {_show(value)}")
    channels = 1
    if len(fields) > 2:
        if not fields[2].isdigit() or int(fields[2]) < 1:
            raise SdpError(f"a=rtpmap channel count {_show(fields[2])} is not a positive number")
        channels = int(fields[2])
    return int(pt_text), (fields[0], int(fields[1]), channels)


ADDRTYPE_CACHE = 256    # addresses whose type is remembered


def _format_order(formats: list[str]):
    order = {fmt: index for index, fmt in enumerate(formats)}
    return lambda pt: order.get(str(pt), len(order))


@functools.lru_cache(maxsize=ADDRTYPE_CACHE)
def _addrtype_of(address: str) -> str | None:
    # Cached: every SDP the B2BUA writes names the same few addresses, and parsing one
    # with ipaddress cost ~7% of the call path's CPU.
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return "IP6" if ip.version == 6 else "IP4"


def _connection_text(nettype: str, addrtype: str, address: str, suffix: str) -> str:
    return f"{nettype} {_addrtype_of(address) or addrtype} {address}{suffix}"


def _attribute_line(name: str, value: str | None) -> str:
    return f"a={name}" if value is None else f"a={name}:{value}"


def _show(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)
