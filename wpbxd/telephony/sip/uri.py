"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), and name-addr / Via values.

Rule 1: text in, records out, records back to text; nothing here touches a socket.
Rule 2: a value that does not follow the grammar raises ``SipSyntaxError`` with a
reason a person can read; a parser never guesses.

Unknown schemes are kept as opaque URIs (``URI.opaque``) so that a request for
``foo:bar`` can still be answered (416) instead of being dropped.
"""

import re
from dataclasses import dataclass, field


class SipSyntaxError(ValueError):
    """A SIP value does not follow the grammar; the message says why."""


_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_BAD_URI_CHARS = re.compile(r"[\s<>\"]")


@dataclass(slots=True)
class URI:
    scheme: str
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None       # the raw "?a=b&c=d" part, without "?"
    opaque: str | None = None        # tel: number or an unknown scheme's text

    @property
    def is_sip(self) -> bool:
        return self.scheme in ("sip", "sips")

    def hostport(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    def __str__(self) -> str:
        if self.opaque is not None:
            text = f"{self.scheme}:{self.opaque}"
        else:
            userinfo = ""
            if self.user is not None:
                userinfo = self.user + (f":{self.password}" if self.password is not None else "") + "@"
            text = f"{self.scheme}:{userinfo}{self.hostport()}"
        for key, value in self.params.items():
            text += f";{key}" if value is None else f";{key}={value}"
        if self.headers:
            text += "?" + self.headers
        return text


_FAST_SIP_URI = re.compile(
    r"^(sips?):(?:([A-Za-z0-9\-_.!~*'()&=+$,%]+)(?::([A-Za-z0-9\-_.!~*'()&=+$,%]*))?@)?"
    r"([A-Za-z0-9][A-Za-z0-9.\-]*)(?::([0-9]{1,5}))?((?:;[A-Za-z0-9\-_.!~*'%+`=\[\]/:&$]*)*)$")
_FAST_ADDRESS = re.compile(
    r'^(?:"([^"\\]*)"[ \t]*|([A-Za-z0-9\-.!%*_+`\'~ \t]*?)[ \t]*)?<([^<>\s]+)>'
    r"((?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=[^;\s]*)?)*)$")


def parse_uri(text: str) -> URI:
    """Parse a URI; sip/sips fully, tel and unknown schemes as opaque text."""
    m = _FAST_SIP_URI.match(text)
    if m is not None:
        scheme, user, password, host, port_text, tail = m.groups()
        port = int(port_text) if port_text else None
        if port is None or 0 < port < 65536:
            params = _split_params(tail)[1] if tail else {}
            return URI(scheme, user, password, host.lower(), port, params, None)
    if not text or _BAD_URI_CHARS.search(text):
        raise SipSyntaxError(f"bad URI {text!r}: empty or contains spaces, quotes or angle brackets")
    scheme, sep, rest = text.partition(":")
    if not sep or not _SCHEME_RE.match(scheme):
        raise SipSyntaxError(f"bad URI {text!r}: no scheme")
    scheme = scheme.lower()
    if scheme not in ("sip", "sips"):
        if not rest:
            raise SipSyntaxError(f"bad URI {text!r}: nothing after the scheme")
        opaque, params = rest, {}
        if scheme == "tel":
            opaque, params = _split_params(rest)
        return URI(scheme, opaque=opaque, params=params)
    headers = None
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        userinfo, hostpart = "", rest
    if "?" in hostpart:
        hostpart, _, headers = hostpart.partition("?")
    hostport, params = _split_params(hostpart)
    user = password = None
    if at:
        if not userinfo:
            raise SipSyntaxError(f"bad URI {text!r}: empty user part")
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipSyntaxError(f"bad URI {text!r}: unterminated IPv6 reference")
        host, portpart = hostport[: end + 1], hostport[end + 1:]
        if portpart and not portpart.startswith(":"):
            raise SipSyntaxError(f"bad URI {text!r}: junk after the IPv6 address")
        port_text = portpart[1:] if portpart else ""
    else:
        host, _, port_text = hostport.partition(":")
    if not host or not _HOST_RE.match(host):
        raise SipSyntaxError(f"bad URI {text!r}: bad host {host!r}")
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipSyntaxError(f"bad URI {text!r}: bad port {port_text!r}")
        port = int(port_text)
    return URI(scheme, user, password, host.lower(), port, params, headers)


def _split_params(text: str) -> tuple[str, dict[str, str | None]]:
    head, *pieces = text.split(";")
    params: dict[str, str | None] = {}
    for piece in pieces:
        key, eq, value = piece.partition("=")
        if not key:
            raise SipSyntaxError(f"empty parameter in {text!r}")
        params[key.lower()] = value if eq else None
    return head, params


# -- name-addr / addr-spec (From, To, Contact, Route ...) ------------------------
@dataclass(slots=True)
class Address:
    display: str | None
    uri: URI
    params: dict[str, str | None] = field(default_factory=dict)
    wildcard: bool = False           # Contact: *

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        if self.wildcard:
            return "*"
        text = f"<{self.uri}>"
        if self.display:
            text = f'"{self.display}" {text}'
        for key, value in self.params.items():
            text += f";{key}" if value is None else f";{key}={value}"
        return text


def parse_address(text: str) -> Address:
    """Parse ``"Name" <uri>;p=v``, ``Name <uri>``, ``<uri>`` or a bare addr-spec."""
    text = text.strip()
    m = _FAST_ADDRESS.match(text)
    if m is not None:
        quoted, token, inner, tail = m.groups()
        params: dict[str, str | None] = {}
        if tail:
            for piece in tail[1:].split(";"):
                key, eq, value = piece.partition("=")
                params[key.lower()] = value if eq else None
        return Address(quoted if quoted is not None else (token.strip() or None), parse_uri(inner), params)
    if text == "*":
        return Address(None, URI("sip"), wildcard=True)
    display: str | None = None
    if text.startswith('"'):
        end = _closing_quote(text, 0)
        display = text[1:end].replace('\\"', '"')
        rest = text[end + 1:].lstrip()
        if not rest.startswith("<"):
            raise SipSyntaxError(f"quoted display name not followed by <URI> in {text!r}")
    else:
        lt = text.find("<")
        rest = text[lt:] if lt >= 0 else text
        if lt > 0:
            name = text[:lt].strip()
            for word in name.split():
                if not _TOKEN_RE.match(word):
                    raise SipSyntaxError(f"display name {name!r} has characters that need quotes")
            display = name or None
    if rest.startswith("<"):
        gt = rest.find(">")
        if gt < 0:
            raise SipSyntaxError(f"unterminated <URI> in {text!r}")
        inner = rest[1:gt]
        if inner != inner.strip():
            raise SipSyntaxError(f"spaces inside <URI> in {text!r}")
        uri = parse_uri(inner)
        tail = rest[gt + 1:].strip()
    else:
        # addr-spec: parameters belong to the header; ',', '?' and ';' cannot be in the URI
        spec, _, tail = rest.partition(";")
        spec = spec.strip()
        if "?" in spec or "," in spec:
            raise SipSyntaxError(f"a URI with '?' or ',' must be enclosed in <> ({text!r})")
        uri = parse_uri(spec)
        tail = ";" + tail if tail else ""
    params = {}
    if tail:
        if not tail.startswith(";"):
            raise SipSyntaxError(f"junk after the address in {text!r}")
        for piece in tail[1:].split(";"):
            key, eq, value = piece.strip().partition("=")
            key = key.strip()
            if not key or not _TOKEN_RE.match(key):
                raise SipSyntaxError(f"empty or bad header parameter in {text!r}")
            value = value.strip()
            params[key.lower()] = value if eq else None
    return Address(display, uri, params)


def _closing_quote(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i
        i += 1
    raise SipSyntaxError(f"unterminated quoted string in {text!r}")


def split_commas(value: str) -> list[str]:
    """Split a multi-value header on commas outside quotes and angle brackets."""
    if "," not in value:
        return [value.strip()]
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
        i += 1
    if quoted:
        raise SipSyntaxError(f"unterminated quoted string in {value!r}")
    out.append(value[start:].strip())
    return out


# -- Via -----------------------------------------------------------------------
@dataclass(slots=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None]

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        text = f"SIP/2.0/{self.transport} {self.host}" + (f":{self.port}" if self.port else "")
        for key, value in self.params.items():
            text += f";{key}" if value is None else f";{key}={value}"
        return text


_VIA_RE = re.compile(r"^\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^;]+?)\s*(;.*)?$", re.S | re.I)


def parse_via(text: str) -> Via:
    m = _VIA_RE.match(text)
    if not m:
        raise SipSyntaxError(f"bad Via {text!r}")
    transport, sent_by, tail = m.groups()
    if sent_by.startswith("["):
        end = sent_by.find("]")
        host, port_text = sent_by[: end + 1], sent_by[end + 2:]
    else:
        host, _, port_text = sent_by.partition(":")
    host, port_text = host.strip(), port_text.strip()
    if not _HOST_RE.match(host):
        raise SipSyntaxError(f"bad Via host {host!r}")
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipSyntaxError(f"bad Via port {port_text!r}")
        port = int(port_text)
    params: dict[str, str | None] = {}
    if tail:
        for piece in tail[1:].split(";"):
            key, eq, value = piece.partition("=")
            key = key.strip()
            if not key:
                raise SipSyntaxError(f"empty Via parameter in {text!r}")
            params[key.lower()] = value.strip() if eq else None
    return Via(transport.upper(), host, port, params)
