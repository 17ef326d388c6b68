"""SIP messages: bytes to ``Request``/``Response`` and back (RFC 3261 §7, §20).

Responsibilities: the start line, header folding, compact header names,
case-insensitive names, comma-separated multi-value headers, ``Content-Length``
for datagrams (``parse``) and for streams (``StreamFramer``), and the checks of
§8.2 that decide whether a request is well formed (``check_request``).

Rule 1: no sockets, no clocks; bytes in, records out.
Rule 2: a message that breaks the grammar raises ``ParseError`` with a reason a
person can read, and carries what could be recovered (``ParseError.partial``) so
the caller can route a ``400`` when the Via and friends were readable.
"""

import re
from collections.abc import Iterable

from wpbxd.telephony.sip.uri import (
    Address,
    SipSyntaxError,
    Via,
    parse_address,
    parse_uri,
    parse_via,
    split_commas,
)

MAX_MESSAGE = 65535          # bytes; a bigger datagram or stream message is refused
MAX_CSEQ = 2**31 - 1         # RFC 3261 §8.1.1.5
MAX_HEADER_COUNT = 512

COMPACT = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
    "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
    "v": "via", "o": "event", "u": "allow-events", "r": "refer-to", "b": "referred-by",
    "x": "session-expires", "y": "identity", "a": "accept-contact", "j": "reject-contact",
    "d": "request-disposition",
}
SPECIAL_CASE = {
    "call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version", "rack": "RAck", "rseq": "RSeq", "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match", "p-asserted-identity": "P-Asserted-Identity",
}
# Headers whose values may be comma lists (§7.3.1); we store them one value each.
MULTI = frozenset({
    "via", "contact", "route", "record-route", "allow", "supported", "require",
    "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
    "allow-events", "content-encoding", "content-language", "in-reply-to", "warning",
    "alert-info", "call-info", "error-info", "path", "service-route",
})
# Headers that must appear once at most (§20; RFC 4475 3.3.8, 3.3.9).
SINGLE = frozenset({"call-id", "cseq", "from", "to", "max-forwards", "content-length",
                    "content-type", "expires", "min-expires"})
_TOKEN_RE = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_FOLD_RE = re.compile(r"\r?\n[ \t]+")
_DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                      r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                      r"\d{2}:\d{2}:\d{2} GMT$")


_CANONICAL: dict[str, str] = {}


def canonical(name: str) -> str:
    found = _CANONICAL.get(name)
    if found is None:
        found = SPECIAL_CASE.get(name) or "-".join(p.capitalize() for p in name.split("-"))
        if len(_CANONICAL) < 1024:
            _CANONICAL[name] = found
    return found


class ParseError(ValueError):
    """The bytes are not a SIP message; ``partial`` holds what could be read."""

    def __init__(self, reason: str, partial: "Message | None" = None, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial
        self.status = status


class Message:
    """Headers (lower-case long names, values in order) and a body."""

    __slots__ = ("headers", "body", "_via", "_addrs")

    def __init__(self, headers: dict[str, list[str]] | None = None, body: bytes = b"") -> None:
        self.headers: dict[str, list[str]] = headers if headers is not None else {}
        self.body = body
        self._via: Via | None = None
        self._addrs: dict[str, Address] | None = None

    # -- header access --------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return self.headers.get(name, [])

    def set(self, name: str, value: str) -> None:
        self.headers[name] = [value]
        if name == "via":
            self._via = None
        self._addrs = None

    def add(self, name: str, value: str, first: bool = False) -> None:
        values = self.headers.setdefault(name, [])
        if first:
            values.insert(0, value)
            if name == "via":
                self._via = None
        else:
            values.append(value)

    def remove(self, name: str) -> None:
        self.headers.pop(name, None)
        if name == "via":
            self._via = None

    # -- common parsed values --------------------------------------------------
    @property
    def call_id(self) -> str:
        return self.get("call-id", "") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        text = self.get("cseq", "") or ""
        num, _, method = text.strip().partition(" ")
        try:
            return int(num), method.strip()
        except ValueError:
            return 0, method.strip()

    @property
    def top_via(self) -> Via:
        if self._via is None:
            values = self.headers.get("via")
            if not values:
                raise SipSyntaxError("no Via header")
            self._via = parse_via(values[0])
        return self._via

    @property
    def from_tag(self) -> str | None:
        return _tag(self.get("from", ""))

    @property
    def to_tag(self) -> str | None:
        return _tag(self.get("to", ""))

    def address(self, name: str) -> Address:
        """The parsed first value of a From/To/Contact-like header (cached; do not mutate)."""
        cache = self._addrs
        if cache is None:
            cache = self._addrs = {}
        found = cache.get(name)
        if found is None:
            found = cache[name] = parse_address(self.get(name, "") or "")
        return found

    # -- serialising ------------------------------------------------------------
    def _head_lines(self) -> list[str]:
        lines = []
        for name, values in self.headers.items():
            if name == "content-length":
                continue
            cname = canonical(name)
            for value in values:
                lines.append(f"{cname}: {value}")
        return lines

    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        lines = [self.start_line(), *self._head_lines(), f"Content-Length: {len(self.body)}", "", ""]
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + self.body


_TAG_RE = re.compile(r";\s*tag\s*=\s*([^;\s>,]+)", re.I)


def _tag(value: str | None) -> str | None:
    if not value:
        return None
    idx = value.rfind(";tag=")
    if idx < 0 or value.rfind(">") > idx:
        m = _TAG_RE.search(value[value.rfind(">") + 1:])
        return m.group(1) if m else None
    tail = value[idx + 5:]
    end = len(tail)
    for sep in (";", " ", ">"):
        pos = tail.find(sep)
        if 0 <= pos < end:
            end = pos
    return tail[:end] or None


class Request(Message):
    __slots__ = ("method", "uri")

    def __init__(self, method: str, uri: str, headers: dict[str, list[str]] | None = None,
                 body: bytes = b"") -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri = uri

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} call-id={self.call_id}>"


class Response(Message):
    __slots__ = ("status", "reason")

    def __init__(self, status: int, reason: str, headers: dict[str, list[str]] | None = None,
                 body: bytes = b"") -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = reason

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} cseq={self.get('cseq')}>"


# -- parsing -----------------------------------------------------------------------
def _find_head_end(data: bytes) -> tuple[int, int]:
    idx = data.find(b"\r\n\r\n")
    if idx >= 0:
        return idx, idx + 4
    idx = data.find(b"\n\n")
    if idx >= 0:
        return idx, idx + 2
    return -1, -1


def parse(data: bytes, stream: bool = False) -> Request | Response:
    """Parse one message from a datagram (or one framed stream message).

    On a datagram a missing ``Content-Length`` means "the rest of the datagram"
    and a larger one than what arrived is an error (§18.3); extra bytes after the
    body are ignored.
    """
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    if start:
        data = data[start:]
    if not data:
        raise ParseError("empty message")
    if len(data) > MAX_MESSAGE:
        raise ParseError("message too large")
    head_end, body_start = _find_head_end(data)
    if head_end < 0:
        raise ParseError("no blank line after the headers")
    head = data[:head_end].decode("utf-8", "surrogateescape")
    if "\n " in head or "\n\t" in head:
        head = _FOLD_RE.sub(" ", head)
    lines = head.split("\r\n") if "\r\n" in head else head.split("\n")
    first = lines[0]
    msg: Request | Response
    problem: str | None = None
    status = 400
    if first.startswith("SIP/"):
        msg = _parse_status_line(first)
    else:
        try:
            msg = _parse_request_line(first)
        except ParseError as err:
            problem, status = err.reason, err.status
            msg = Request(first.split(" ", 1)[0] or "UNKNOWN", "")
    headers = msg.headers
    if len(lines) > MAX_HEADER_COUNT:
        raise ParseError("too many header lines", msg)
    for line in lines[1:]:
        colon = line.find(":")
        if colon <= 0:
            problem = problem or f"malformed header line {line[:40]!r}"
            continue
        name = line[:colon].rstrip().lower()
        if not _TOKEN_RE.match(name):
            problem = problem or f"bad header name {name[:40]!r}"
            continue
        name = COMPACT.get(name, name)
        value = line[colon + 1:].strip()
        if name in MULTI:
            try:
                values = split_commas(value)
            except SipSyntaxError as err:
                problem = problem or str(err)
                values = [value]
            existing = headers.get(name)
            if existing is None:
                headers[name] = values
            else:
                existing.extend(values)
        else:
            existing = headers.get(name)
            if existing is None:
                headers[name] = [value]
            else:
                existing.append(value)
    rest = data[body_start:]
    cl_values = headers.get("content-length")
    if cl_values is not None:
        if len(cl_values) > 1:
            raise ParseError("more than one Content-Length", msg)
        text = cl_values[0]
        if not text.isdigit():
            raise ParseError(f"bad Content-Length {text[:20]!r}", msg)
        length = int(text)
        if length > len(rest):
            raise ParseError("Content-Length larger than the message body", msg)
        msg.body = rest[:length]
    elif stream:
        raise ParseError("no Content-Length on a stream transport", msg)
    else:
        msg.body = rest
    if problem:
        raise ParseError(problem, msg, status)
    return msg


def _parse_request_line(line: str) -> Request:
    parts = line.split(" ")
    if len(parts) != 3:
        raise ParseError("malformed Request-Line (it needs exactly: METHOD SP URI SP SIP/2.0)")
    method, uri, version = parts
    if not method or not _TOKEN_RE.match(method):
        raise ParseError(f"bad method {method[:20]!r}")
    if version != "SIP/2.0":
        if version.upper().startswith("SIP/"):
            raise ParseError(f"SIP version {version[4:20]} not supported", status=505)
        raise ParseError("malformed Request-Line (no SIP version)")
    if not uri or uri.startswith("<"):
        raise ParseError("malformed Request-URI")
    return Request(method, uri)


def _parse_status_line(line: str) -> Response:
    version, _, rest = line.partition(" ")
    if version != "SIP/2.0":
        raise ParseError(f"unsupported SIP version in a response ({version[:20]!r})")
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
        raise ParseError(f"bad status code {code[:20]!r}")
    return Response(int(code), reason)


# -- request checks (§8.2) ---------------------------------------------------------
def check_request(req: Request) -> tuple[int, str] | None:
    """Return (status, reason) when a parsed request is not acceptable, else None.

    Covers what any element checks before handling a request: the mandatory
    headers, single-valued headers appearing once, CSeq, Max-Forwards, the URI
    grammar, Contact and Date syntax (RFC 4475 §3.1.2 and §3.3).
    """
    h = req.headers
    for name in ("via", "from", "to", "call-id", "cseq"):
        if not h.get(name):
            return 400, f"Missing {canonical(name)} header"
    for name in SINGLE:
        values = h.get(name)
        if values is not None and len(values) > 1:
            return 400, f"Multiple {canonical(name)} headers"
    cseq_text = h["cseq"][0].strip()
    num, _, method = cseq_text.partition(" ")
    method = method.strip()
    if not num.isdigit() or int(num) > MAX_CSEQ:
        return 400, "Bad CSeq number"
    if method != req.method:
        return 400, "CSeq method does not match the Request-Line"
    mf = h.get("max-forwards")
    if mf is not None and (not mf[0].isdigit() or int(mf[0]) > 255):
        return 400, "Bad Max-Forwards"
    expires = h.get("expires")
    if expires is not None and (not expires[0].isdigit() or int(expires[0]) > MAX_CSEQ):
        return 400, "Bad Expires"
    try:
        _ = req.top_via          # only the top Via is ours to read (§8.2, §18.2.1)
    except SipSyntaxError as err:
        return 400, f"Bad Via: {err}"
    try:
        ruri = parse_uri(req.uri)
    except SipSyntaxError:
        return 400, "Malformed Request-URI"
    if ruri.is_sip and ruri.headers is not None:
        return 400, "Request-URI carries headers"
    for name in ("from", "to"):
        try:
            addr = req.address(name)
        except SipSyntaxError as err:
            return 400, f"Bad {canonical(name)} header: {err}"
        if name == "to" and req.method == "REGISTER" and not addr.uri.is_sip:
            return 400, "REGISTER To header is not a SIP URI"
    contacts = h.get("contact", ())
    for index, value in enumerate(contacts):
        try:
            contact = req.address("contact") if index == 0 else parse_address(value)
        except SipSyntaxError as err:
            return 400, f"Bad Contact header: {err}"
        exp = contact.params.get("expires")
        if exp is not None and (not exp.isdigit() or int(exp) > MAX_CSEQ):
            return 400, "Bad Contact expires"
    date = h.get("date")
    if date is not None and not _DATE_RE.match(date[0]):
        return 400, "Bad Date header (it must be RFC 1123 in GMT)"
    if not ruri.is_sip and ruri.scheme != "tel":
        return 416, "Unsupported URI Scheme"
    return None


# -- building ----------------------------------------------------------------------
RESPONSE_COPY = ("via", "from", "to", "call-id", "cseq")


def make_response(req: Request, status: int, reason: str, to_tag: str | None = None,
                  extra: Iterable[tuple[str, str]] = (), body: bytes = b"") -> Response:
    """A response to ``req`` (§8.2.6): Via, From, To, Call-ID and CSeq copied."""
    headers: dict[str, list[str]] = {}
    src = req.headers
    for name in RESPONSE_COPY:
        values = src.get(name)
        if values:
            headers[name] = list(values)
    if to_tag and status != 100:
        to = headers.get("to")
        if to and ";tag=" not in to[0].lower():
            headers["to"] = [to[0] + ";tag=" + to_tag]
    for name, value in extra:
        headers.setdefault(name, []).append(value)
    return Response(status, reason, headers, body)


class StreamFramer:
    """Cut a TCP byte stream into messages using Content-Length (§18.3).

    ``feed`` returns the complete messages found so far; CRLF keep-alives
    (RFC 5626) between messages are skipped. A header block without a valid
    Content-Length raises ``ParseError``: the stream cannot be resynchronised and
    the connection should be closed.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        buf = self._buffer
        while True:
            stripped = buf.lstrip(b"\r\n")
            buf = stripped
            head_end, body_start = _find_head_end(buf)
            if head_end < 0:
                if len(buf) > MAX_MESSAGE:
                    self._buffer = b""
                    raise ParseError("header block too large on the stream")
                break
            length = _stream_content_length(buf[:head_end])
            if length is None:
                self._buffer = b""
                raise ParseError("no valid Content-Length on a stream transport")
            if length > MAX_MESSAGE:
                self._buffer = b""
                raise ParseError("message too large")
            end = body_start + length
            if len(buf) < end:
                break
            out.append(buf[:end])
            buf = buf[end:]
        self._buffer = buf
        return out


_CL_RE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$", re.I | re.M)


def _stream_content_length(head: bytes) -> int | None:
    found = _CL_RE.findall(head)
    if len(found) != 1 or not found[0].isdigit():
        return None
    return int(found[0])


# -- what to do with bytes that arrived ------------------------------------------
SUPPORTED_EXTENSIONS = frozenset({"path", "replaces", "timer", "outbound"})


class Triage:
    """The outcome of looking at one inbound message before any state is touched.

    ``message`` is set when it should be handled; ``reply`` when the sender should
    get an error response instead; neither when it is dropped (``reason`` says why).
    """

    __slots__ = ("message", "reply", "reason")

    def __init__(self, message: Request | Response | None, reply: Response | None = None,
                 reason: str = "") -> None:
        self.message = message
        self.reply = reply
        self.reason = reason


def _routable(msg: Message | None) -> bool:
    """Can an error response reach the sender? (It goes back to the source address.)"""
    if not isinstance(msg, Request) or msg.method == "ACK":
        return False
    h = msg.headers
    return bool(h.get("via") and h.get("cseq"))


def triage(data: bytes, stream: bool = False) -> Triage:
    """Parse and check an inbound message (RFC 3261 §8.2, §18.3; RFC 4475)."""
    try:
        msg = parse(data, stream)
    except ParseError as err:
        if _routable(err.partial):
            assert isinstance(err.partial, Request)
            reason = ("Version Not Supported" if err.status == 505
                      else f"Bad Request ({err.reason})")
            return Triage(None, make_response(err.partial, err.status, reason), err.reason)
        return Triage(None, None, err.reason)
    if isinstance(msg, Response):
        if not msg.headers.get("via") or not msg.headers.get("cseq") or not msg.headers.get("call-id"):
            return Triage(None, None, "response without Via, CSeq or Call-ID")
        try:
            _ = msg.top_via
        except (SipSyntaxError, ValueError) as err:
            return Triage(None, None, f"response with a bad Via ({err})")
        return Triage(msg)
    problem = check_request(msg)
    if problem is not None:
        status, reason = problem
        if not _routable(msg):
            return Triage(None, None, reason)
        if msg.method == "ACK":
            return Triage(None, None, reason)
        if status == 400:
            reason = f"Bad Request ({reason})"
        return Triage(None, make_response(msg, status, reason), reason)
    required = [r for r in msg.get_all("require") if r.lower() not in SUPPORTED_EXTENSIONS]
    if required and msg.method not in ("ACK", "CANCEL"):
        return Triage(None, make_response(msg, 420, "Bad Extension",
                                          extra=[("unsupported", r) for r in required]),
                      "unsupported extension")
    return Triage(msg)
