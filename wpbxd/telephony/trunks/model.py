"""SIP trunks and trunk groups as data: records, validation and the service functions.

Every change (web UI, console, ``wpbxctl``) goes through these functions:
validate, write inside one transaction, publish ``ConfigChanged('trunks')``. A
rejected change raises ``ValidationError``/``Conflict``/``NotFound`` and leaves
the previous configuration intact.

Fields follow the seed's "Configuration du Trunk": title, trunk name, login,
From user, provider domain, host[:port] or ``dynamic``, password, incoming
procedure (``main``), country code, keep-alive and registration on/off.

Rule: this module stores rows; it never sends a SIP message.
"""

import ipaddress
import re
from dataclasses import asdict, dataclass
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import Conflict, NotFound, ValidationError
from wpbxd.events import ConfigChanged

SECTION = "trunks"
DYNAMIC = "dynamic"
DEFAULT_SIP_PORT = 5060
DEFAULT_PROCEDURE = "main"
DEFAULT_REGISTER_EXPIRES = 300      # seconds asked of the provider
MIN_REGISTER_EXPIRES = 60
MAX_REGISTER_EXPIRES = 86400
MAX_KEEPALIVE = 3600                # seconds between OPTIONS
MAX_CALLS = 10000
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                         r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$")
USER_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]{1,128}$")
COUNTRY_RE = re.compile(r"^[0-9]{0,4}$")
CALLED_FROM = ("ruri", "to")
MAX_STRIP = 32
PREPEND_RE = re.compile(r"^[0-9*#+]{0,32}$")


@dataclass(frozen=True)
class Trunk:
    name: str
    login: str
    host: str                       # host[:port] or 'dynamic'
    title: str = ""
    from_user: str = ""
    domain: str = ""
    password: str = ""
    procedure: str = DEFAULT_PROCEDURE
    country_code: str = ""
    keepalive: int = 0              # seconds between OPTIONS; 0 off
    register: bool = False
    register_expires: int = DEFAULT_REGISTER_EXPIRES
    called_from: str = "ruri"       # where an incoming call's number is read: Request-URI or To
    max_calls: int = 0              # simultaneous calls; 0 unlimited
    price_list: str | None = None

    @property
    def dynamic(self) -> bool:
        return self.host == DYNAMIC

    @property
    def hostname(self) -> str:
        return split_hostport(self.host)[0]

    @property
    def port(self) -> int | None:
        """The explicit port, or None (then RFC 3263 SRV lookup applies)."""
        return split_hostport(self.host)[1]

    @property
    def sip_domain(self) -> str:
        """The domain of From/To/Request-URI: the provider domain, else the host."""
        return self.domain or (self.host if not self.dynamic else "")

    @property
    def user(self) -> str:
        """The user part of From (and of the registered address of record)."""
        return self.from_user or self.login

    def public(self) -> dict[str, Any]:
        """The record as shown to admins (no password)."""
        out = asdict(self)
        out["password"] = "********" if self.password else ""
        return out


@dataclass(frozen=True)
class GroupMember:
    trunk: str
    strip: int = 0
    prepend: str = ""
    max_calls: int = 0              # 0: the trunk's own limit
    delay: float = 0.0              # seconds before the next member is tried as well

    def digits(self, number: str) -> str:
        """The number as this member sends it: ``strip`` digits off, ``prepend`` added."""
        return self.prepend + number[self.strip:]


@dataclass(frozen=True)
class TrunkGroup:
    name: str
    members: tuple[GroupMember, ...]


def split_hostport(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` -> (host, port or None)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValidationError(f"{text!r}: unclosed '['", "host")
        host, rest = text[1:end], text[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValidationError(f"{text!r}: expected ':port' after ']'", "host")
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValidationError(f"port {port_text!r} must be 1-65535", "host")
    return host, int(port_text)


def _check_host(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValidationError("is required (host[:port] or 'dynamic')", "host")
    if text.lower() == DYNAMIC:
        return DYNAMIC
    host, _ = split_hostport(text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not HOSTNAME_RE.match(host):
            raise ValidationError(f"{host!r} is not an IP address or host name", "host") from None
    return text


def _check_int(value: Any, field: str, lo: int, hi: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"must be a whole number between {lo} and {hi}", field) from None
    if not lo <= number <= hi:
        raise ValidationError(f"must be between {lo} and {hi}", field)
    return number


def _check_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "yes", "on", "true"):
        return True
    if text in ("0", "no", "off", "false", ""):
        return False
    raise ValidationError("must be yes or no", field)


def _check_user(value: Any, field: str, required: bool) -> str:
    text = str(value or "").strip()
    if not text:
        if required:
            raise ValidationError("is required", field)
        return ""
    if not USER_RE.match(text):
        raise ValidationError(f"{text!r} is not a valid SIP user name", field)
    return text


def check_name(value: Any, what: str = "trunk") -> str:
    text = str(value or "").strip()
    if not NAME_RE.match(text):
        raise ValidationError(f"{what} name {text!r}: 1-64 letters, digits, '_', '-' or '.'", "name")
    return text


def validate(values: dict[str, Any], store: Store) -> Trunk:
    """A complete ``Trunk`` from form values, or ``ValidationError`` naming the field."""
    name = check_name(values.get("name"))
    login = _check_user(values.get("login"), "login", required=True)
    host = _check_host(values.get("host"))
    domain = str(values.get("domain") or "").strip()
    if domain:
        _check_host(domain)
        if ":" in domain:
            raise ValidationError("a domain has no port", "domain")
    procedure = check_name(values.get("procedure") or DEFAULT_PROCEDURE, "procedure")
    if store.one("SELECT 1 FROM procedures WHERE name = ?", (procedure,)) is None:
        raise ValidationError(f"no procedure {procedure!r}", "procedure")
    country = str(values.get("country_code") or "").strip().lstrip("+")
    if not COUNTRY_RE.match(country):
        raise ValidationError(f"{country!r}: a country code is 1-4 digits", "country_code")
    register = _check_bool(values.get("register", False), "register")
    if register and host == DYNAMIC:
        raise ValidationError("a 'dynamic' trunk is registered to by the peer; it cannot register itself",
                              "register")
    called_from = str(values.get("called_from") or "ruri").strip().lower()
    if called_from not in CALLED_FROM:
        raise ValidationError("must be 'ruri' (Request-URI) or 'to' (To header)", "called_from")
    price_list = str(values.get("price_list") or "").strip() or None
    if price_list and store.one("SELECT 1 FROM price_lists WHERE name = ?", (price_list,)) is None:
        raise ValidationError(f"no price list {price_list!r}", "price_list")
    password = str(values.get("password") or "")
    if host == DYNAMIC and not password:
        raise ValidationError("a 'dynamic' trunk needs a password: the peer authenticates with it", "password")
    return Trunk(
        name=name, login=login, host=host, title=str(values.get("title") or "").strip(),
        from_user=_check_user(values.get("from_user"), "from_user", required=False), domain=domain,
        password=password, procedure=procedure, country_code=country,
        keepalive=_check_int(values.get("keepalive") or 0, "keepalive", 0, MAX_KEEPALIVE),
        register=register,
        register_expires=_check_int(values.get("register_expires") or DEFAULT_REGISTER_EXPIRES,
                                    "register_expires", MIN_REGISTER_EXPIRES, MAX_REGISTER_EXPIRES),
        called_from=called_from, max_calls=_check_int(values.get("max_calls") or 0, "max_calls", 0, MAX_CALLS),
        price_list=price_list,
    )


COLUMNS = ("name", "title", "login", "from_user", "domain", "host", "password", "procedure", "country_code",
           "keepalive", "register", "register_expires", "called_from", "max_calls", "price_list")


def _row_to_trunk(row: Any) -> Trunk:
    values = {c: row[c] for c in COLUMNS}
    values["register"] = bool(values["register"])
    return Trunk(**values)


def _publish(bus: EventBus | None, key: str | None) -> None:
    if bus is not None:
        bus.publish(ConfigChanged(SECTION, key))


# -- reading -------------------------------------------------------------------
def list_trunks(store: Store) -> list[Trunk]:
    return [_row_to_trunk(r) for r in store.all(f"SELECT {', '.join(COLUMNS)} FROM trunks ORDER BY name")]


def get_trunk(store: Store, name: str) -> Trunk:
    row = store.one(f"SELECT {', '.join(COLUMNS)} FROM trunks WHERE name = ?", (str(name),))
    if row is None:
        raise NotFound(f"no trunk {name!r}")
    return _row_to_trunk(row)


# -- writing -------------------------------------------------------------------
def _write(store: Store, trunk: Trunk, replace: str | None) -> None:
    values = asdict(trunk)
    values["register"] = int(trunk.register)
    if replace is None:
        store.execute(f"INSERT INTO trunks({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                      [values[c] for c in COLUMNS])
    else:
        store.execute(f"UPDATE trunks SET {', '.join(c + ' = ?' for c in COLUMNS)} WHERE name = ?",
                      [values[c] for c in COLUMNS] + [replace])


def add_trunk(store: Store, bus: EventBus | None, values: dict[str, Any]) -> Trunk:
    with store.transaction():
        trunk = validate(values, store)
        if store.one("SELECT 1 FROM trunks WHERE name = ?", (trunk.name,)):
            raise Conflict(f"a trunk named {trunk.name!r} exists")
        _write(store, trunk, None)
    _publish(bus, trunk.name)
    return trunk


def update_trunk(store: Store, bus: EventBus | None, name: str, changes: dict[str, Any]) -> Trunk:
    """Change some fields; an omitted (None) field keeps its value."""
    with store.transaction():
        current = get_trunk(store, name)
        values = asdict(current)
        values.update({k: v for k, v in changes.items() if v is not None and k in COLUMNS})
        trunk = validate(values, store)
        if trunk.name != current.name and store.one("SELECT 1 FROM trunks WHERE name = ?", (trunk.name,)):
            raise Conflict(f"a trunk named {trunk.name!r} exists")
        _write(store, trunk, current.name)
    _publish(bus, trunk.name)
    return trunk


def delete_trunk(store: Store, bus: EventBus | None, name: str) -> Trunk:
    with store.transaction():
        trunk = get_trunk(store, name)
        store.execute("DELETE FROM trunks WHERE name = ?", (trunk.name,))
    _publish(bus, trunk.name)
    return trunk


# -- trunk groups -------------------------------------------------------------------
def _check_member(raw: dict[str, Any], store: Store, index: int) -> GroupMember:
    where = f"member {index + 1}"
    trunk = str(raw.get("trunk") or "").strip()
    if store.one("SELECT 1 FROM trunks WHERE name = ?", (trunk,)) is None:
        raise ValidationError(f"{where}: no trunk {trunk!r}", "members")
    prepend = str(raw.get("prepend") or "").strip()
    if not PREPEND_RE.match(prepend):
        raise ValidationError(f"{where}: digits to add must be digits, '*', '#' or '+'", "members")
    try:
        delay = float(raw.get("delay") or 0)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: delay must be a number of seconds", "members") from None
    if not 0 <= delay <= 600:
        raise ValidationError(f"{where}: delay must be between 0 and 600 seconds", "members")
    try:
        strip = _check_int(raw.get("strip") or 0, "members", 0, MAX_STRIP)
        max_calls = _check_int(raw.get("max_calls") or 0, "members", 0, MAX_CALLS)
    except ValidationError as err:
        raise ValidationError(f"{where}: {err.message}", "members") from None
    return GroupMember(trunk=trunk, strip=strip, prepend=prepend, max_calls=max_calls, delay=delay)


def set_group(store: Store, bus: EventBus | None, name: str, members: list[dict[str, Any]]) -> TrunkGroup:
    """Create or replace a trunk group with its ordered members."""
    name = check_name(name, "trunk group")
    if not members:
        raise ValidationError("a trunk group needs at least one trunk", "members")
    with store.transaction():
        checked = tuple(_check_member(m, store, i) for i, m in enumerate(members))
        store.execute("INSERT OR IGNORE INTO trunk_groups(name) VALUES (?)", (name,))
        store.execute("DELETE FROM trunk_group_members WHERE group_name = ?", (name,))
        for position, m in enumerate(checked):
            store.execute("INSERT INTO trunk_group_members(group_name, position, trunk, strip, prepend, max_calls,"
                          " delay) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (name, position, m.trunk, m.strip, m.prepend, m.max_calls, m.delay))
    _publish(bus, f"group:{name}")
    return TrunkGroup(name, checked)


def get_group(store: Store, name: str) -> TrunkGroup:
    if store.one("SELECT 1 FROM trunk_groups WHERE name = ?", (str(name),)) is None:
        raise NotFound(f"no trunk group {name!r}")
    rows = store.all("SELECT trunk, strip, prepend, max_calls, delay FROM trunk_group_members"
                     " WHERE group_name = ? ORDER BY position", (name,))
    return TrunkGroup(name, tuple(GroupMember(r["trunk"], r["strip"], r["prepend"], r["max_calls"], r["delay"])
                                  for r in rows))


def list_groups(store: Store) -> list[TrunkGroup]:
    return [get_group(store, r["name"]) for r in store.all("SELECT name FROM trunk_groups ORDER BY name")]


def delete_group(store: Store, bus: EventBus | None, name: str) -> None:
    with store.transaction():
        if store.execute("DELETE FROM trunk_groups WHERE name = ?", (name,)).rowcount == 0:
            raise NotFound(f"no trunk group {name!r}")
    _publish(bus, f"group:{name}")


def normalise_number(number: str, country_code: str, national_prefix: str = "0",
                     international_prefix: str = "00") -> str:
    """A number from a trunk in the PBX's dialling format, by the trunk's country code.

    ``+CC...`` of the trunk's own country becomes national (``0`` + rest), any
    other ``+...`` international (``00`` + rest); numbers without ``+`` are kept.
    So a caller shown as +33145678900 on a French trunk can be called back as
    0145678900. No country code on the trunk: only the ``+`` is rewritten.
    """
    if not number.startswith("+") or not number[1:].isdigit():
        return number
    digits = number[1:]
    if country_code and digits.startswith(country_code):
        return national_prefix + digits[len(country_code):]
    return international_prefix + digits
