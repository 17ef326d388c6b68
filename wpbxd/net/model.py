"""The desired network state of the four ports, its validation and its storage.

Responsible for: the records an admin edits (seed, "Configuration du réseau" and
"Serveur DHCP"): each port's mode (DHCP client, static, disabled), the
``wbr0`` bridge of eth0+eth2 with the traffic shaper's limits, the host name and
the DHCP server's settings; the three scenarios as presets; the factory defaults
(seed, "Connexion": eth0 DHCP client, eth1 10.135.0.1/24 with the DHCP server,
eth2 and eth3 disabled); validation with messages an admin understands; storing
the *desired* and the last *confirmed* state in the store as JSON documents.

It must not: touch the kernel (``reconcile.py`` does) or run any protocol.
"""

import ipaddress
import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from wpbxd.config.store import Store
from wpbxd.errors import ValidationError

PORTS = ("eth0", "eth1", "eth2", "eth3")
WAN = "eth0"
BRIDGE = "wbr0"
BRIDGE_PORTS = ("eth0", "eth2")
IFB = "ifb0"
MODES = ("dhcp", "static", "disabled")
SCENARIOS = ("shared", "separate", "shaper")
HOSTNAME_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
MAX_LIMIT_KBIT = 10_000_000  # 10 Gbit/s
MIN_CONFIRM_TIMEOUT = 10     # seconds
MAX_CONFIRM_TIMEOUT = 3600   # seconds


@dataclass(frozen=True)
class PortConfig:
    name: str
    mode: str = "disabled"            # dhcp | static | disabled
    address: str = ""                 # static: "10.135.0.1/24"
    gateway: str = ""                 # static: default route via this address
    dns: tuple[str, ...] = ()         # static: name servers

    @property
    def enabled(self) -> bool:
        return self.mode != "disabled"


@dataclass(frozen=True)
class ShaperConfig:
    enabled: bool = False             # bridge eth0+eth2 as wbr0 and shape eth0
    upload_kbit: int = 0              # 0 = no limit
    download_kbit: int = 0


@dataclass(frozen=True)
class DhcpServerConfig:
    enabled: bool = True
    interface: str = "eth1"
    range_start: str = "10.135.0.100"
    range_end: str = "10.135.0.200"
    lease_minutes: int = 60
    max_leases: int = 100
    domain: str = ""
    gateway: str = "10.135.0.1"
    dns: tuple[str, ...] = ("10.135.0.1",)
    ntp: tuple[str, ...] = ()
    wins: tuple[str, ...] = ()
    refuse_unknown: bool = False
    conflict_check: bool = True       # ARP-probe an address before offering it (RFC 2131 2.2)
    tftp_server: str = ""             # option 66; empty = the PBX's address on the interface
    provisioning_url: str = ""        # option 160; empty = http://<PBX address>/provisioning/
    vendor_options: tuple[tuple[str, str], ...] = ()   # (vendor-class prefix, option 43 hex)


@dataclass(frozen=True)
class NetState:
    scenario: str = "separate"
    hostname: str = "wpbx"
    ports: tuple[PortConfig, ...] = field(default_factory=lambda: factory_ports())
    shaper: ShaperConfig = ShaperConfig()
    dhcp: DhcpServerConfig = DhcpServerConfig()
    confirm_timeout: int = 60         # seconds before an unconfirmed apply is rolled back
    manage_in_host_mode: bool = False # manage the interfaces even when wpbxd runs in host mode

    def port(self, name: str) -> PortConfig:
        for port in self.ports:
            if port.name == name:
                return port
        raise KeyError(name)

    def with_port(self, new: PortConfig) -> "NetState":
        return replace(self, ports=tuple(new if p.name == new.name else p for p in self.ports))

    def l3_interfaces(self) -> dict[str, PortConfig]:
        """The interfaces carrying addresses: ``wbr0`` replaces eth0 (and eth2) when bridged."""
        result: dict[str, PortConfig] = {}
        for port in self.ports:
            if self.shaper.enabled and port.name in BRIDGE_PORTS:
                if port.name == WAN:
                    result[BRIDGE] = replace(port, name=BRIDGE)
                continue
            if port.enabled:
                result[port.name] = port
        return result

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def factory_ports() -> tuple[PortConfig, ...]:
    return (
        PortConfig("eth0", "dhcp"),
        PortConfig("eth1", "static", "10.135.0.1/24"),
        PortConfig("eth2"),
        PortConfig("eth3"),
    )


def factory_state() -> NetState:
    return NetState()


# -- (de)serialisation -------------------------------------------------------------
def _tuple(value: Any, key: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list | tuple):
        raise ValidationError("must be a list of addresses", key)
    return tuple(str(v) for v in value)


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("yes", "true", "on", "1", "no", "false", "off", "0"):
        return value.lower() in ("yes", "true", "on", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValidationError("must be yes or no", key)


def _int(value: Any, key: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError("must be a whole number", key) from None


def port_from(data: dict[str, Any], base: PortConfig) -> PortConfig:
    known = {"mode", "address", "gateway", "dns"}
    unknown = set(data) - known - {"name"}
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(sorted(unknown))}", base.name)
    return replace(
        base,
        mode=str(data.get("mode", base.mode)),
        address=str(data.get("address", base.address) or ""),
        gateway=str(data.get("gateway", base.gateway) or ""),
        dns=_tuple(data["dns"], f"{base.name}.dns") if "dns" in data else base.dns,
    )


def shaper_from(data: dict[str, Any], base: ShaperConfig) -> ShaperConfig:
    unknown = set(data) - {"enabled", "upload_kbit", "download_kbit"}
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(sorted(unknown))}", "shaper")
    return ShaperConfig(
        enabled=_bool(data.get("enabled", base.enabled), "shaper.enabled"),
        upload_kbit=_int(data.get("upload_kbit", base.upload_kbit), "shaper.upload_kbit"),
        download_kbit=_int(data.get("download_kbit", base.download_kbit), "shaper.download_kbit"),
    )


def dhcp_from(data: dict[str, Any], base: DhcpServerConfig) -> DhcpServerConfig:
    fields = set(DhcpServerConfig.__dataclass_fields__)
    unknown = set(data) - fields
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(sorted(unknown))}", "dhcp")
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = f"dhcp.{key}"
        if key in ("enabled", "refuse_unknown", "conflict_check"):
            values[key] = _bool(value, name)
        elif key in ("lease_minutes", "max_leases"):
            values[key] = _int(value, name)
        elif key in ("dns", "ntp", "wins"):
            values[key] = _tuple(value, name)
        elif key == "vendor_options":
            if isinstance(value, dict):
                value = list(value.items())
            values[key] = tuple((str(p), str(h)) for p, h in value)
        else:
            values[key] = "" if value is None else str(value)
    return replace(base, **values)


def from_dict(data: dict[str, Any], base: NetState | None = None) -> NetState:
    """Build a state from a (possibly partial) document over ``base``."""
    state = base or factory_state()
    unknown = set(data) - {"scenario", "hostname", "ports", "shaper", "dhcp", "confirm_timeout",
                           "manage_in_host_mode"}
    if unknown:
        raise ValidationError(f"unknown section(s) {', '.join(sorted(unknown))}")
    if "scenario" in data:
        state = replace(state, scenario=str(data["scenario"]))
    if "hostname" in data:
        state = replace(state, hostname=str(data["hostname"]))
    if "confirm_timeout" in data:
        state = replace(state, confirm_timeout=_int(data["confirm_timeout"], "confirm_timeout"))
    if "manage_in_host_mode" in data:
        state = replace(state, manage_in_host_mode=_bool(data["manage_in_host_mode"], "manage_in_host_mode"))
    ports = data.get("ports") or {}
    if isinstance(ports, list):
        ports = {p.get("name"): p for p in ports}
    for name, value in ports.items():
        if name not in PORTS:
            raise ValidationError(f"no port named {name!r} (ports are {', '.join(PORTS)})")
        state = state.with_port(port_from(value, state.port(name)))
    if "shaper" in data:
        state = replace(state, shaper=shaper_from(data["shaper"], state.shaper))
    if "dhcp" in data:
        state = replace(state, dhcp=dhcp_from(data["dhcp"], state.dhcp))
    return state


def loads(text: str) -> NetState:
    data = json.loads(text)
    data["ports"] = {p["name"]: p for p in data.get("ports", [])}
    return from_dict(data, factory_state())


def with_scenario(state: NetState, scenario: str) -> NetState:
    """The seed's three scenarios as presets over the current settings."""
    if scenario not in SCENARIOS:
        raise ValidationError(f"unknown scenario {scenario!r} (one of {', '.join(SCENARIOS)})", "scenario")
    eth0 = state.port("eth0")
    if not eth0.enabled:
        eth0 = replace(eth0, mode="dhcp")
    eth1 = state.port("eth1")
    if scenario == "shared":
        ports = (eth0, replace(eth1, mode="disabled"), PortConfig("eth2"), PortConfig("eth3"))
        return replace(state, scenario=scenario, ports=ports,
                       shaper=replace(state.shaper, enabled=False),
                       dhcp=replace(state.dhcp, enabled=False))
    if not eth1.enabled or eth1.mode != "static":
        eth1 = PortConfig("eth1", "static", "10.135.0.1/24")
    ports = (eth0, eth1, PortConfig("eth2"), state.port("eth3"))
    return replace(state, scenario=scenario, ports=ports,
                   shaper=replace(state.shaper, enabled=scenario == "shaper"),
                   dhcp=replace(state.dhcp, enabled=True, interface="eth1"))


# -- validation --------------------------------------------------------------------
def _address(text: str, field_name: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ValidationError(f"{text!r} is not an IPv4 address", field_name) from None


def interface_network(port: PortConfig) -> ipaddress.IPv4Interface:
    try:
        iface = ipaddress.IPv4Interface(port.address)
    except ValueError:
        raise ValidationError(f"{port.address!r} is not an address with a prefix (e.g. 10.135.0.1/24)",
                              f"{port.name}.address") from None
    if "/" not in port.address:
        raise ValidationError("give the prefix length too (e.g. 10.135.0.1/24)", f"{port.name}.address")
    if iface.network.prefixlen < 31 and iface.ip in (iface.network.network_address,
                                                     iface.network.broadcast_address):
        raise ValidationError(f"{iface.ip} is the network or broadcast address of {iface.network}",
                              f"{port.name}.address")
    return iface


def validate(state: NetState) -> NetState:
    """Raise ``ValidationError`` with a clear message if ``state`` cannot be applied."""
    if state.scenario not in SCENARIOS:
        raise ValidationError(f"unknown scenario {state.scenario!r}", "scenario")
    if not HOSTNAME_RE.match(state.hostname):
        raise ValidationError("letters, digits and '-' only, 1 to 63 characters", "hostname")
    if not MIN_CONFIRM_TIMEOUT <= state.confirm_timeout <= MAX_CONFIRM_TIMEOUT:
        raise ValidationError(f"must be between {MIN_CONFIRM_TIMEOUT} and {MAX_CONFIRM_TIMEOUT} seconds",
                              "confirm_timeout")
    if tuple(p.name for p in state.ports) != PORTS:
        raise ValidationError(f"the ports must be {', '.join(PORTS)}")
    networks: dict[str, ipaddress.IPv4Interface] = {}
    default_routes: list[str] = []
    for port in state.ports:
        if port.mode not in MODES:
            raise ValidationError(f"mode must be one of {', '.join(MODES)}", f"{port.name}.mode")
        for server in port.dns:
            _address(server, f"{port.name}.dns")
        if port.mode == "static":
            networks[port.name] = interface_network(port)
            if port.gateway:
                gateway = _address(port.gateway, f"{port.name}.gateway")
                if gateway not in networks[port.name].network:
                    raise ValidationError(
                        f"gateway {gateway} is outside {port.name}'s subnet {networks[port.name].network}",
                        f"{port.name}.gateway")
                default_routes.append(port.name)
        elif port.mode == "dhcp":
            default_routes.append(port.name)
    if state.shaper.enabled and state.port("eth2").enabled:
        raise ValidationError("eth2 is a port of the wbr0 bridge when the shaper is on: disable it", "eth2.mode")
    if len(default_routes) > 1:
        raise ValidationError(
            f"more than one default route ({', '.join(default_routes)}): only one port may have a "
            "gateway or be a DHCP client")
    names = list(networks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if networks[a].network.overlaps(networks[b].network):
                raise ValidationError(
                    f"{a} ({networks[a].network}) and {b} ({networks[b].network}) overlap", f"{b}.address")
    shaper = state.shaper
    if shaper.enabled:
        if not state.port(WAN).enabled:
            raise ValidationError("the shaper needs eth0 enabled", "shaper.enabled")
        for key, value in (("upload_kbit", shaper.upload_kbit), ("download_kbit", shaper.download_kbit)):
            if not 0 <= value <= MAX_LIMIT_KBIT:
                raise ValidationError(f"must be between 0 (no limit) and {MAX_LIMIT_KBIT}", f"shaper.{key}")
    if state.scenario == "shaper" and not shaper.enabled:
        raise ValidationError("the shaper scenario needs the shaper enabled", "shaper.enabled")
    _validate_dhcp(state, networks)
    return state


def _validate_dhcp(state: NetState, networks: dict[str, ipaddress.IPv4Interface]) -> None:
    dhcp = state.dhcp
    if not dhcp.enabled:
        return
    if dhcp.interface not in PORTS:
        raise ValidationError(f"no port named {dhcp.interface!r}", "dhcp.interface")
    if state.shaper.enabled and dhcp.interface in BRIDGE_PORTS:
        raise ValidationError(f"{dhcp.interface} is a bridge port when the shaper is on", "dhcp.interface")
    if dhcp.interface not in networks:
        raise ValidationError(f"the DHCP server needs {dhcp.interface} to have a static address",
                              "dhcp.interface")
    iface = networks[dhcp.interface]
    start = _address(dhcp.range_start, "dhcp.range_start")
    end = _address(dhcp.range_end, "dhcp.range_end")
    for name, value in (("range_start", start), ("range_end", end)):
        if value not in iface.network or value in (iface.network.network_address,
                                                   iface.network.broadcast_address):
            raise ValidationError(f"{value} is outside the LAN subnet {iface.network} of {dhcp.interface}",
                                  f"dhcp.{name}")
    if int(start) > int(end):
        raise ValidationError("the range start comes after its end", "dhcp.range_start")
    if int(start) <= int(iface.ip) <= int(end):
        raise ValidationError(f"the range contains the PBX's own address {iface.ip}", "dhcp.range_start")
    if not 1 <= dhcp.lease_minutes <= 7 * 24 * 60:
        raise ValidationError("must be between 1 and 10080 minutes", "dhcp.lease_minutes")
    if not 1 <= dhcp.max_leases <= 65536:
        raise ValidationError("must be between 1 and 65536", "dhcp.max_leases")
    if dhcp.gateway:
        gateway = _address(dhcp.gateway, "dhcp.gateway")
        if gateway not in iface.network:
            raise ValidationError(f"gateway {gateway} is outside the LAN subnet {iface.network}", "dhcp.gateway")
    for key in ("dns", "ntp", "wins"):
        values = getattr(dhcp, key)
        if len(values) > 2:
            raise ValidationError("primary and secondary only (2 at most)", f"dhcp.{key}")
        for value in values:
            _address(value, f"dhcp.{key}")
    if dhcp.domain and not all(HOSTNAME_RE.match(label) for label in dhcp.domain.split(".")):
        raise ValidationError(f"{dhcp.domain!r} is not a domain name", "dhcp.domain")
    for prefix, payload in dhcp.vendor_options:
        try:
            raw = bytes.fromhex(payload)
        except ValueError:
            raise ValidationError(f"option 43 for {prefix!r} must be hex bytes", "dhcp.vendor_options") from None
        if not prefix or len(raw) > 255:
            raise ValidationError("a vendor class prefix and at most 255 bytes", "dhcp.vendor_options")


# -- storage -----------------------------------------------------------------------
def load(store: Store, name: str = "desired") -> NetState:
    row = store.one("SELECT body FROM net_state WHERE name = ?", (name,))
    if row is None:
        if name == "confirmed":
            return load(store, "desired")
        return factory_state()
    return loads(row["body"])


def save(store: Store, state: NetState, name: str = "desired") -> None:
    validate(state)
    with store.transaction():
        store.execute(
            "INSERT INTO net_state(name, body) VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
            " SET body = excluded.body, updated_at = datetime('now')",
            (name, state.to_json()),
        )


def as_dict(state: NetState) -> dict[str, Any]:
    return json.loads(state.to_json())
