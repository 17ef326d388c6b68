"""``wpbxctl net show|set|scenario|shaper|apply|confirm`` and ``wpbxctl dhcp leases|set|device``."""

import argparse
import json
import time

from wpbxd.console.client import ControlError

LEASE_COLUMNS = ("ip", "mac", "hostname", "vendor_class", "state", "expires_in", "interface")
DHCP_FIELDS = {
    "enabled": "start the DHCP server (yes/no)",
    "interface": "port the server runs on (normally eth1)",
    "range_start": "first address handed out",
    "range_end": "last address handed out",
    "lease_minutes": "default lease time (minutes)",
    "max_leases": "maximum number of leases",
    "domain": "domain name suffix",
    "gateway": "default gateway given to clients",
    "dns": "primary,secondary DNS servers",
    "ntp": "primary,secondary NTP servers",
    "wins": "primary,secondary WINS servers",
    "refuse_unknown": "serve only known devices (yes/no)",
    "conflict_check": "ARP-probe an address before offering it (yes/no, default yes)",
    "tftp_server": "option 66/150 (default: the PBX's address)",
    "provisioning_url": "option 160 (default: http://PBX/provisioning/)",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("net", help="network ports: show, change, apply with rollback, confirm")
    nsub = p.add_subparsers(dest="action", required=True)

    sh = nsub.add_parser("show", help="desired, confirmed and live network state")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=show)

    st = nsub.add_parser("set", help="change one port (ethN) or the host name")
    st.add_argument("port", nargs="?", choices=("eth0", "eth1", "eth2", "eth3"))
    st.add_argument("--mode", choices=("dhcp", "static", "disabled"))
    st.add_argument("--address", help="static address with prefix, e.g. 10.135.0.1/24")
    st.add_argument("--gateway")
    st.add_argument("--dns", help="comma-separated name servers")
    st.add_argument("--hostname")
    st.add_argument("--confirm-timeout", type=int, help="seconds before an unconfirmed apply rolls back")
    st.add_argument("--document", help="a JSON document merged into the desired state")
    st.set_defaults(func=set_)

    sc = nsub.add_parser("scenario", help="shared | separate | shaper (seed: Configuration du réseau)")
    sc.add_argument("name", choices=("shared", "separate", "shaper"))
    sc.set_defaults(func=scenario)

    sp = nsub.add_parser("shaper", help="traffic shaper limits on the WAN (wbr0 = eth0 + eth2)")
    sp.add_argument("--enabled", choices=("yes", "no"))
    sp.add_argument("--upload-kbit", type=int)
    sp.add_argument("--download-kbit", type=int)
    sp.set_defaults(func=shaper)

    ap = nsub.add_parser("apply", help="apply the desired state; rolls back unless confirmed in time")
    ap.add_argument("--timeout", type=float, help="seconds to wait for 'net confirm' (default: confirm_timeout)")
    ap.add_argument("--json", action="store_true")
    ap.set_defaults(func=apply)

    pt = nsub.add_parser("ports", help="are the PBX's ports bound where the LAN reaches them?")
    pt.add_argument("--json", action="store_true")
    pt.set_defaults(func=ports)

    cf = nsub.add_parser("confirm", help="keep the settings applied by the last 'net apply'")
    cf.set_defaults(func=lambda args, ctl: print("confirmed") if ctl.call("net.confirm") else 1)

    d = sub.add_parser("dhcp", help="the DHCP server: leases, settings, known devices")
    dsub = d.add_subparsers(dest="action", required=True)
    ls = dsub.add_parser("leases", help="the lease table")
    ls.add_argument("--all", action="store_true", help="also expired, released and declined")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=leases)
    ds = dsub.add_parser("set", help="change the DHCP server's settings (then 'net apply')")
    for name, text in DHCP_FIELDS.items():
        ds.add_argument("--" + name.replace("_", "-"), dest=name, help=text)
    ds.add_argument("--vendor-option", action="append", metavar="PREFIX=HEX",
                    help="option 43 bytes for clients whose vendor class starts with PREFIX")
    ds.set_defaults(func=dhcp_set)
    dst = dsub.add_parser("status", help="DHCP server counters")
    dst.add_argument("--json", action="store_true")
    dst.set_defaults(func=lambda args, ctl: ctl.print_json(ctl.call("dhcp.status")))
    dev = dsub.add_parser("device", help="known devices (served when refusing unknown clients)")
    dev.add_argument("verb", choices=("add", "del", "list"))
    dev.add_argument("mac", nargs="?")
    dev.add_argument("--name", default="")
    dev.add_argument("--json", action="store_true")
    dev.set_defaults(func=device)


def show(args, ctl) -> int:
    state = ctl.call("net.show")
    if args.json:
        ctl.print_json(state)
        return 0
    desired = state["desired"]
    print(f"managing interfaces: {'yes' if state['managing'] else 'no (host mode)'}")
    print(f"scenario: {desired['scenario']}  hostname: {desired['hostname']}")
    live = state.get("live") or {}
    rows = []
    for port in desired["ports"]:
        name = port["name"]
        link = live.get("links", {}).get(name, {})
        rows.append({"port": name, "mode": port["mode"], "desired": port["address"] or "-",
                     "gateway": port["gateway"] or "-",
                     "live": ",".join(live.get("addresses", {}).get(name, [])) or "-",
                     "link": ("up" if link.get("up") else "down") if link else "?",
                     "master": link.get("master") or "-"})
    if "wbr0" in live.get("links", {}):
        rows.append({"port": "wbr0", "mode": "bridge", "desired": "(eth0's settings)", "gateway": "-",
                     "live": ",".join(live["addresses"].get("wbr0", [])) or "-", "link": "up", "master": "-"})
    ctl.print_table(rows, ("port", "mode", "desired", "gateway", "live", "link", "master"))
    sh = desired["shaper"]
    print(f"shaper: {'on' if sh['enabled'] else 'off'} (upload {sh['upload_kbit']} kbit/s,"
          f" download {sh['download_kbit']} kbit/s)")
    if live.get("default_routes"):
        print("default route: " + ", ".join(f"via {g} ({d})" for g, d in live["default_routes"]))
    for client in state.get("wan_clients", []):
        lease = client.get("lease")
        text = f"{lease['address']} via {lease['gateway'] or '-'}" if lease else "no lease"
        print(f"DHCP client on {client['interface']}: {client['state']}, {text}")
    for server in state.get("dhcp_servers", []):
        print(f"DHCP server on {server['interface']}: {server['range']},"
              f" {server['active_leases']} active leases")
    if state.get("pending_confirm"):
        print(f"WAITING FOR 'wpbxctl net confirm': rollback in {state['pending_confirm']['seconds_left']} s")
    if state.get("last_rollback"):
        when = time.strftime("%H:%M:%S", time.localtime(state["last_rollback"]["at"]))
        print(f"last rollback: {when}")
    return 0


def set_(args, ctl) -> int:
    doc: dict = json.loads(args.document) if args.document else {}
    port = {k: v for k in ("mode", "address", "gateway", "dns") if (v := getattr(args, k)) is not None}
    if port:
        if not args.port:
            raise ControlError("name the port (eth0..eth3) to change")
        doc.setdefault("ports", {})[args.port] = port
    if args.hostname:
        doc["hostname"] = args.hostname
    if args.confirm_timeout is not None:
        doc["confirm_timeout"] = args.confirm_timeout
    ctl.call("net.set", doc)
    print("saved; run 'wpbxctl net apply' to apply")
    return 0


def scenario(args, ctl) -> int:
    ctl.call("net.scenario", {"name": args.name})
    print(f"scenario {args.name} saved; run 'wpbxctl net apply' to apply")
    return 0


def shaper(args, ctl) -> int:
    values = {}
    if args.enabled is not None:
        values["enabled"] = args.enabled
    if args.upload_kbit is not None:
        values["upload_kbit"] = args.upload_kbit
    if args.download_kbit is not None:
        values["download_kbit"] = args.download_kbit
    ctl.call("net.set", {"shaper": values})
    print("saved; run 'wpbxctl net apply' to apply")
    return 0


def apply(args, ctl) -> int:
    result = ctl.call("net.apply", {"timeout": args.timeout} if args.timeout else {})
    if args.json:
        ctl.print_json(result)
        return 0
    for line in result["changes"]:
        print(line)
    if result["confirm_within"]:
        print(f"run 'wpbxctl net confirm' within {result['confirm_within']:.0f} s, or the previous"
              " settings come back")
    else:
        print("nothing changed")
    return 0


def ports(args, ctl) -> int:
    result = ctl.call("net.ports")
    if args.json:
        ctl.print_json(result)
        return 0
    print(f"status: {result['status']}")
    rows = [{**r, "bound_on": ",".join(r["bound_on"]) or "-"} for r in result["ports"]]
    ctl.print_table(rows, ("name", "proto", "port", "status", "bound_on"))
    return 0


def leases(args, ctl) -> int:
    ctl.output(args, ctl.call("dhcp.leases", {"all": args.all}), LEASE_COLUMNS)
    return 0


def dhcp_set(args, ctl) -> int:
    values = {k: v for k in DHCP_FIELDS if (v := getattr(args, k)) is not None}
    if args.vendor_option:
        pairs = [item.partition("=") for item in args.vendor_option]
        values["vendor_options"] = [[prefix, payload] for prefix, _, payload in pairs]
    ctl.call("net.set", {"dhcp": values})
    print("saved; run 'wpbxctl net apply' to apply")
    return 0


def device(args, ctl) -> int:
    if args.verb == "list":
        ctl.output(args, ctl.call("dhcp.device.list"), ("mac", "name", "model"))
        return 0
    if not args.mac:
        raise ControlError("give the device's MAC address")
    if args.verb == "add":
        ctl.call("dhcp.device.add", {"mac": args.mac, "name": args.name})
    else:
        ctl.call("dhcp.device.del", {"mac": args.mac})
    print("done")
    return 0
