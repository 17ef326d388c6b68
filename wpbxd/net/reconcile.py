"""Make the kernel's network configuration match a plan, through netlink (pyroute2).

Responsible for: turning a validated ``NetState`` (plus the WAN DHCP lease, if any)
into a ``KernelPlan`` — links up/down, the ``wbr0`` bridge of eth0+eth2, IPv4
addresses, the default route, the voice-first shaper — reading the live state
back, and applying only the differences. Applying the same plan twice changes
nothing; every change is reported as one line.

The shaper (seed: "régulateur de trafic"): on the WAN port eth0, an HTB tree whose
class 1:10 (prio 0) carries SIP (the PBX's SIP port), RTP (its RTP range) and
DSCP EF/CS3 packets ahead of class 1:20 (everything else), both under the upload
limit (1:1). The download limit: an ingress qdisc on eth0 redirects (u32 + mirred)
every packet to ``ifb0``, which carries the same HTB tree at the download rate.
Leaf qdiscs are fq_codel or sfq when the kernel has them, else pfifo (probed once).
When the shaper tree differs from the plan, that device's tree is rebuilt.

It must not: parse the output of ``ip``/``tc``, decide policy (``model.py`` does),
or touch interfaces other than eth0-eth3, wbr0 and ifb0.
"""

import errno
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from wpbxd.net.model import BRIDGE, BRIDGE_PORTS, IFB, PORTS, WAN, NetState

log = logging.getLogger(__name__)

ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
HTB_ROOT = 0x10000             # 1:
HTB_TOP = 0x10001              # 1:1
VOICE_CLASS = 0x10010          # 1:10
BULK_CLASS = 0x10020           # 1:20
INGRESS = 0xFFFF0000           # ffff:
TC_H_ROOT = 0xFFFFFFFF
TC_H_INGRESS = 0xFFFFFFF1
BULK_SHARE = 0.1               # of the limit guaranteed to bulk when voice is busy
MIN_RATE_KBIT = 8
DSCP_EF = 46
DSCP_CS3 = 24
LEAF_CANDIDATES = ("fq_codel", "sfq", "pfifo")
PFIFO_LIMIT = 100              # packets; pyroute2 would otherwise send 0 (drop everything)
MANAGED = (*PORTS, BRIDGE, IFB)


@dataclass(frozen=True)
class WanLease:
    """What the WAN DHCP client was given."""

    interface: str
    address: str                        # "192.0.2.10/24"
    gateway: str = ""
    dns: tuple[str, ...] = ()
    expires: float = 0.0
    server: str = ""


@dataclass(frozen=True)
class ShaperPlan:
    device: str
    upload_kbit: int
    download_kbit: int
    sip_port: int
    rtp_low: int
    rtp_high: int


@dataclass(frozen=True)
class KernelPlan:
    up: frozenset[str]                              # links to bring up (others of eth0-3: down)
    bridge: bool                                    # wbr0 with eth0 + eth2
    addresses: dict[str, frozenset[str]]            # device -> {"a.b.c.d/len"}
    default_route: tuple[str, str] | None           # (gateway, device)
    shaper: ShaperPlan | None
    dhcp_clients: tuple[str, ...] = ()              # devices whose address comes from DHCP

    def describe(self) -> dict[str, Any]:
        return {
            "up": sorted(self.up), "bridge": self.bridge,
            "addresses": {k: sorted(v) for k, v in sorted(self.addresses.items())},
            "default_route": list(self.default_route) if self.default_route else None,
            "shaper": self.shaper.__dict__ if self.shaper else None,
            "dhcp_clients": list(self.dhcp_clients),
        }


def plan(state: NetState, leases: dict[str, WanLease], sip_port: int, rtp: tuple[int, int]) -> KernelPlan:
    """The kernel configuration that realises ``state`` (addresses of DHCP ports from ``leases``)."""
    up: set[str] = set()
    addresses: dict[str, frozenset[str]] = {}
    default: tuple[str, str] | None = None
    clients: list[str] = []
    for port in state.ports:
        if port.enabled or (state.shaper.enabled and port.name in BRIDGE_PORTS):
            up.add(port.name)
    if state.shaper.enabled:
        up.add(BRIDGE)
    l3 = state.l3_interfaces()
    for device in (*PORTS, BRIDGE):
        config = l3.get(device)
        if config is None:
            addresses[device] = frozenset()
            continue
        if config.mode == "static":
            addresses[device] = frozenset({str(ipaddress.IPv4Interface(config.address))})
            if config.gateway:
                default = (config.gateway, device)
        else:
            clients.append(device)
            lease = leases.get(device)
            addresses[device] = frozenset({lease.address}) if lease else frozenset()
            if lease and lease.gateway:
                default = (lease.gateway, device)
    shaper = None
    sc = state.shaper
    if sc.enabled and (sc.upload_kbit or sc.download_kbit):
        shaper = ShaperPlan(WAN, sc.upload_kbit, sc.download_kbit, sip_port, rtp[0], rtp[1])
        if sc.download_kbit:
            up.add(IFB)
    return KernelPlan(frozenset(up), state.shaper.enabled, addresses, default, shaper, tuple(clients))


def port_blocks(low: int, high: int) -> list[tuple[int, int]]:
    """Split [low, high] into aligned power-of-two blocks: (first port, 16-bit mask)."""
    blocks = []
    port = low
    while port <= high:
        size = port & -port if port else 1 << 16
        while size > high - port + 1:
            size //= 2
        blocks.append((port, 0xFFFF & ~(size - 1)))
        port += size
    return blocks


def voice_keys(shaper: ShaperPlan) -> list[str]:
    """u32 selectors (one filter each) that put a packet in the voice class.

    Offsets assume an IPv4 header without options (20 bytes), like most classifiers.
    """
    keys = [f"0x{DSCP_EF << 18:08x}/0x00fc0000+0", f"0x{DSCP_CS3 << 18:08x}/0x00fc0000+0"]
    ranges = [(shaper.sip_port, 0xFFFF), *port_blocks(shaper.rtp_low, shaper.rtp_high)]
    for port, mask in ranges:
        keys.append(f"0x{port << 16:08x}/0x{mask << 16:08x}+20")     # source port
        keys.append(f"0x{port:08x}/0x{mask:08x}+20")                 # destination port
    return keys


def _canonical(value: int, mask: int, offset: int) -> tuple[tuple[int, int, int], ...]:
    """A u32 key as the bytes it compares: ((byte offset, value, mask), ...)."""
    masks = mask.to_bytes(4, "big")
    values = (value & mask).to_bytes(4, "big")
    return tuple((offset + i, values[i], masks[i]) for i in range(4) if masks[i])


def _parse_key(text: str) -> tuple[tuple[int, int, int], ...]:
    value_mask, _, offset = text.partition("+")
    value, _, mask = value_mask.partition("/")
    return _canonical(int(value, 16), int(mask, 16), int(offset))


def _decoded_key(key: dict[str, int]) -> tuple[tuple[int, int, int], ...]:
    """A key as pyroute2 0.9.7 decodes it: its ``u32_key`` reads 4 bytes early, so the
    kernel's mask lands in ``key_val``, its value in ``key_off`` (host order) and its
    offset in ``key_offmask``. A correct decoder (non-zero ``key_mask``) is used as is."""
    if key["key_mask"]:
        return _canonical(key["key_val"], key["key_mask"], key["key_off"])
    value = int.from_bytes(struct.pack("<i", key["key_off"]), "big")
    return _canonical(value, key["key_val"], key["key_offmask"])


def _bytes_per_s(kbit: int) -> int:
    return kbit * 1000 // 8


@dataclass
class LiveState:
    links: dict[str, dict[str, Any]] = field(default_factory=dict)      # name -> {up, master, index}
    addresses: dict[str, set[str]] = field(default_factory=dict)
    default_routes: list[tuple[str, str]] = field(default_factory=list)
    tc: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "links": {k: {"up": v["up"], "master": v["master"]} for k, v in sorted(self.links.items())},
            "addresses": {k: sorted(v) for k, v in sorted(self.addresses.items()) if k in self.links},
            "default_routes": [list(r) for r in self.default_routes],
            "shaper": self.tc,
        }


class Reconciler:
    """Reads and writes the kernel's state of the managed interfaces in one namespace."""

    def __init__(self, ipr: IPRoute | None = None) -> None:
        self.ipr = ipr or IPRoute()
        self._leaf_kind: str | None = None

    def close(self) -> None:
        self.ipr.close()

    # -- reading ------------------------------------------------------------------
    def _index(self, name: str) -> int | None:
        found = self.ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def live(self) -> LiveState:
        state = LiveState()
        names: dict[int, str] = {}
        for link in self.ipr.get_links():
            names[link["index"]] = link.get_attr("IFLA_IFNAME")
        for link in self.ipr.get_links():
            name = link.get_attr("IFLA_IFNAME")
            if name not in MANAGED:
                continue
            master = link.get_attr("IFLA_MASTER")
            state.links[name] = {"index": link["index"], "up": bool(link["flags"] & 1),
                                 "master": names.get(master) if master else None}
            state.addresses[name] = set()
        for addr in self.ipr.get_addr(family=socket.AF_INET):
            name = names.get(addr["index"])
            if name in state.addresses:
                state.addresses[name].add(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}")
        for route in self.ipr.get_routes(family=socket.AF_INET, table=254):
            if route["dst_len"] == 0 and route.get_attr("RTA_GATEWAY"):
                state.default_routes.append((route.get_attr("RTA_GATEWAY"),
                                             names.get(route.get_attr("RTA_OIF"), "?")))
        for device in (WAN, IFB):
            if device in state.links:
                tree = self._tc_tree(state.links[device]["index"])
                if tree["qdiscs"]:
                    state.tc[device] = tree
        return state

    def _tc_tree(self, index: int) -> dict[str, Any]:
        qdiscs = sorted((q.get_attr("TCA_KIND"), q["handle"], q["parent"])
                        for q in self.ipr.get_qdiscs(index=index)
                        if q.get_attr("TCA_KIND") not in ("noqueue", "pfifo_fast", "mq") or q["handle"])
        classes = []
        for c in self.ipr.get_classes(index=index):
            if c.get_attr("TCA_KIND") != "htb":
                continue
            parms = c.get_attr("TCA_OPTIONS").get_attr("TCA_HTB_PARMS")
            classes.append((c["handle"], c["parent"], parms["rate"], parms["ceil"], parms["prio"]))
        filters = []
        for parent in (HTB_ROOT, INGRESS):
            for f in self.ipr.get_filters(index=index, parent=parent):
                options = f.get_attr("TCA_OPTIONS")
                if f.get_attr("TCA_KIND") != "u32" or not options:
                    continue
                sel = options.get_attr("TCA_U32_SEL")
                if not sel:
                    continue
                keys = tuple(sorted(b for k in sel["keys"] for b in _decoded_key(k)))
                filters.append((parent, options.get_attr("TCA_U32_CLASSID") or 0, keys))
        return {"qdiscs": [list(q) for q in qdiscs], "classes": sorted(classes), "filters": sorted(filters)}

    # -- applying -----------------------------------------------------------------
    def apply(self, target: KernelPlan) -> list[str]:
        """Change what differs; return one line per change (empty when nothing changed)."""
        changes: list[str] = []
        live = self.live()
        missing = [p for p in PORTS if p not in live.links]
        if missing:
            raise RuntimeError(f"interface(s) {', '.join(missing)} not found")
        self._links(target, live, changes)
        live = self.live()
        self._addresses(target, live, changes)
        self._routes(target, self.live(), changes)     # removing an address may take routes with it
        self._shaper(target, self.live(), changes)
        for line in changes:
            log.info("net: %s", line)
        return changes

    def _set_up(self, name: str, live: LiveState, up: bool, changes: list[str]) -> None:
        link = live.links[name]
        if link["up"] != up:
            self.ipr.link("set", index=link["index"], state="up" if up else "down")
            changes.append(f"{name} {'up' if up else 'down'}")

    def _links(self, target: KernelPlan, live: LiveState, changes: list[str]) -> None:
        if target.bridge and BRIDGE not in live.links:
            wan = self.ipr.get_links(live.links[WAN]["index"])[0]
            self.ipr.link("add", ifname=BRIDGE, kind="bridge", address=wan.get_attr("IFLA_ADDRESS"),
                          br_stp_state=0, br_forward_delay=0)
            changes.append(f"{BRIDGE} created")
            live = self.live()
        for port in BRIDGE_PORTS:
            want = BRIDGE if target.bridge else None
            if live.links[port]["master"] != want:
                if want:
                    self._flush(port, live, changes)
                    self.ipr.link("set", index=live.links[port]["index"], master=live.links[BRIDGE]["index"])
                    changes.append(f"{port} joined {BRIDGE}")
                else:
                    self.ipr.link("set", index=live.links[port]["index"], master=0)
                    changes.append(f"{port} left {BRIDGE}")
        if not target.bridge and BRIDGE in live.links:
            self.ipr.link("del", index=live.links[BRIDGE]["index"])
            changes.append(f"{BRIDGE} removed")
        want_ifb = target.shaper is not None and target.shaper.download_kbit > 0
        if want_ifb and IFB not in live.links:
            self.ipr.link("add", ifname=IFB, kind="ifb")
            changes.append(f"{IFB} created")
        elif not want_ifb and IFB in live.links:
            self.ipr.link("del", index=live.links[IFB]["index"])
            changes.append(f"{IFB} removed")
        live = self.live()
        for name in live.links:
            self._set_up(name, live, name in target.up, changes)

    def _flush(self, name: str, live: LiveState, changes: list[str]) -> None:
        for address in sorted(live.addresses.get(name, ())):
            self._del_addr(name, live, address, changes)

    def _del_addr(self, name: str, live: LiveState, address: str, changes: list[str]) -> None:
        ip, _, prefix = address.partition("/")
        try:
            self.ipr.addr("del", index=live.links[name]["index"], address=ip, prefixlen=int(prefix))
            changes.append(f"{name} -{address}")
        except NetlinkError as err:
            if err.code != errno.EADDRNOTAVAIL:
                raise

    def _addresses(self, target: KernelPlan, live: LiveState, changes: list[str]) -> None:
        for name, link in live.links.items():
            if name == IFB:
                continue
            want = target.addresses.get(name, frozenset())
            have = live.addresses.get(name, set())
            # deletions first: removing a primary address also removes the secondaries of its subnet
            for address in sorted(have - want):
                self._del_addr(name, live, address, changes)
            for address in sorted(want - have):
                iface = ipaddress.IPv4Interface(address)
                self.ipr.addr("add", index=link["index"], address=str(iface.ip),
                              prefixlen=iface.network.prefixlen,
                              broadcast=str(iface.network.broadcast_address))
                changes.append(f"{name} +{address}")

    def _routes(self, target: KernelPlan, live: LiveState, changes: list[str]) -> None:
        wanted = target.default_route
        for gateway, device in live.default_routes:
            if (gateway, device) != wanted:
                try:
                    self.ipr.route("del", dst="0.0.0.0/0", gateway=gateway, table=254)
                    changes.append(f"default route via {gateway} ({device}) removed")
                except NetlinkError as err:
                    if err.code != errno.ESRCH:
                        raise
        if wanted and wanted not in live.default_routes:
            gateway, device = wanted
            self.ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=live.links[device]["index"], table=254)
            changes.append(f"default route via {gateway} ({device})")

    # -- shaper -------------------------------------------------------------------
    def _leaf(self, index: int, parent: int, handle: int) -> str:
        candidates = (self._leaf_kind,) if self._leaf_kind else LEAF_CANDIDATES
        for kind in candidates:
            extra = {"limit": PFIFO_LIMIT} if kind == "pfifo" else {}
            try:
                self.ipr.tc("add", kind, index=index, handle=handle, parent=parent, **extra)
                self._leaf_kind = kind
                return kind
            except NetlinkError as err:
                if err.code not in (errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
        raise RuntimeError("no leaf qdisc available")

    def leaf_kind(self) -> str | None:
        return self._leaf_kind

    def _desired_tree(self, shaper: ShaperPlan, kbit: int, ingress: bool, ifb_index: int) -> dict[str, Any]:
        rate = _bytes_per_s(kbit)
        bulk = _bytes_per_s(max(int(kbit * BULK_SHARE), MIN_RATE_KBIT))
        leaf = self._leaf_kind or LEAF_CANDIDATES[-1]
        qdiscs = [("htb", HTB_ROOT, TC_H_ROOT), (leaf, 0x100000, VOICE_CLASS), (leaf, 0x200000, BULK_CLASS)]
        filters = [(HTB_ROOT, VOICE_CLASS, _parse_key(k)) for k in voice_keys(shaper)]
        if ingress:
            qdiscs.append(("ingress", INGRESS, TC_H_INGRESS))
            filters.append((INGRESS, HTB_TOP, ()))
        classes = [(HTB_TOP, TC_H_ROOT, rate, rate, 0), (VOICE_CLASS, HTB_TOP, rate, rate, 0),
                   (BULK_CLASS, HTB_TOP, bulk, rate, 1)]
        return {"qdiscs": [list(q) for q in sorted(qdiscs)], "classes": sorted(classes), "filters": sorted(filters)}

    def _build_tree(self, index: int, shaper: ShaperPlan, kbit: int) -> None:
        rate = f"{kbit}kbit"
        bulk = f"{max(int(kbit * BULK_SHARE), MIN_RATE_KBIT)}kbit"
        self.ipr.tc("add", "htb", index=index, handle=HTB_ROOT, default=0x20)
        self.ipr.tc("add-class", "htb", index=index, handle=HTB_TOP, parent=HTB_ROOT, rate=rate, ceil=rate)
        self.ipr.tc("add-class", "htb", index=index, handle=VOICE_CLASS, parent=HTB_TOP,
                    rate=rate, ceil=rate, prio=0)
        self.ipr.tc("add-class", "htb", index=index, handle=BULK_CLASS, parent=HTB_TOP,
                    rate=bulk, ceil=rate, prio=1)
        self._leaf(index, VOICE_CLASS, 0x100000)
        self._leaf(index, BULK_CLASS, 0x200000)
        for prio, key in enumerate(voice_keys(shaper), start=1):
            self.ipr.tc("add-filter", "u32", index=index, parent=HTB_ROOT, prio=prio,
                        protocol=ETH_P_IP, target=VOICE_CLASS, keys=[key])

    def _clear_tc(self, index: int) -> None:
        for kind, parent in (("htb", TC_H_ROOT), ("ingress", TC_H_INGRESS)):
            for q in self.ipr.get_qdiscs(index=index):
                if q["parent"] == parent and q["handle"]:
                    try:
                        if kind == "ingress":
                            self.ipr.tc("del", "ingress", index=index, handle=INGRESS)
                        else:
                            self.ipr.tc("del", index=index, handle=q["handle"], parent=TC_H_ROOT)
                    except NetlinkError as err:
                        if err.code not in (errno.ENOENT, errno.EINVAL):
                            raise

    def _shaper(self, target: KernelPlan, live: LiveState, changes: list[str]) -> None:
        shaper = target.shaper
        if self._leaf_kind is None:
            for tree in live.tc.values():
                for kind, _handle, parent in tree["qdiscs"]:
                    if parent == VOICE_CLASS and kind in LEAF_CANDIDATES:
                        self._leaf_kind = kind
        ifb_index = live.links.get(IFB, {}).get("index", 0)
        wan_index = live.links[WAN]["index"]
        wan_tree: dict[str, Any] | None = None
        ifb_tree: dict[str, Any] | None = None
        if shaper is not None:
            if shaper.upload_kbit or shaper.download_kbit:
                if shaper.upload_kbit:
                    wan_tree = self._desired_tree(shaper, shaper.upload_kbit, bool(shaper.download_kbit), ifb_index)
                else:
                    wan_tree = {"qdiscs": [["ingress", INGRESS, TC_H_INGRESS]], "classes": [],
                                "filters": [(INGRESS, HTB_TOP, ())]}
            if shaper.download_kbit:
                ifb_tree = self._desired_tree(shaper, shaper.download_kbit, False, ifb_index)
        for device, index, want in ((WAN, wan_index, wan_tree), (IFB, ifb_index, ifb_tree)):
            if not index:
                continue
            have = live.tc.get(device)
            if want is None and have is None:
                continue
            if have == want:
                continue
            self._clear_tc(index)
            if want is None:
                changes.append(f"{device} shaper removed")
                continue
            assert shaper is not None
            kbit = shaper.upload_kbit if device == WAN else shaper.download_kbit
            if device == WAN and shaper.upload_kbit:
                self._build_tree(index, shaper, kbit)
            elif device == IFB:
                self._build_tree(index, shaper, kbit)
            if device == WAN and shaper.download_kbit:
                self.ipr.tc("add", "ingress", index=index, handle=INGRESS)
                self.ipr.tc("add-filter", "u32", index=index, parent=INGRESS, prio=1, protocol=ETH_P_ALL,
                            target=HTB_TOP, keys=["0x0/0x0+0"],
                            action={"kind": "mirred", "direction": "egress", "action": "redirect",
                                    "ifindex": ifb_index})
            changes.append(f"{device} shaper {kbit} kbit/s ({'upload' if device == WAN else 'download'},"
                           f" leaf {self._leaf_kind})")
