"""DHCP server benchmark: DORA/s with no drops, ours vs dnsmasq vs kea-dhcp4; lease durability.

Run as root: ``.venv/bin/python bench/dhcp.py``. It builds the namespace box of the
integration tests (``tests/net/topology.py``): the server under test runs on eth1 of
the ``pbx`` namespace (10.135.0.1/16), ``perfdhcp`` (Debian ``kea-admin``) runs in
``lan1``. Each server is driven at increasing rates (new random MACs, DISCOVER-
OFFER-REQUEST-ACK) until perfdhcp reports a drop; the highest rate with zero drops
is printed with its ratio to kea-dhcp4's (the anchor) and to dnsmasq's.

"wpbx" ARP-probes every new address before offering it (200 ms wait; the default),
"wpbx-np" runs with ``conflict_check`` off, like dnsmasq here (``--no-ping``) and kea
(no conflict check by default).

Then the durability check: a load client (this script with ``--client``, in
``lan1``) runs DORAs against wpbxd, which is killed with SIGKILL halfway and started
again; every lease a client got an ACK for must be in the store afterwards, and no
address may have been acknowledged to two clients.

Timings here are information, never test assertions.
"""

import argparse
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LAN_SERVER = "10.135.0.1"
LAN_PREFIX = 16
LAN_CLIENT = "10.135.0.2"
POOL = ("10.135.1.0", "10.135.255.254")
RATES = (250, 500, 1000, 2000, 3000, 4000, 6000)   # DORA/s tried, in order
ATTEMPTS = 2            # a rate with drops is tried once more (the machine is shared) before stopping
DROP_TIME = 2           # seconds before perfdhcp counts a missing reply as a drop
EXIT_WAIT_US = 2_000_000
DURABILITY_RATE = 400   # DORA/s during the kill -9 check
DURABILITY_SECONDS = 20.0
KILL_AFTER = 5.0        # seconds into the durability load


# -- the load client used for the durability check (runs inside lan1) ---------------
def client_main(iface: str, rate: float, seconds: float, out: Path) -> None:
    from wpbxd.net.dhcp import codec

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, 25, iface.encode())
    sock.bind(("0.0.0.0", 68))
    sock.setblocking(False)
    pending: dict[int, bytes] = {}
    acked = 0
    start = time.monotonic()
    sent = 0
    with out.open("w") as log:
        while True:
            now = time.monotonic()
            if now - start < seconds and sent < (now - start) * rate:
                xid = random.getrandbits(32)
                mac = bytes([0x02]) + random.randbytes(5)
                pending[xid] = mac
                msg = codec.DhcpMessage(op=1, xid=xid, chaddr=mac, flags=codec.FLAG_BROADCAST,
                                        options=((codec.OPT_MESSAGE_TYPE, bytes((codec.DISCOVER,))),))
                sock.sendto(codec.serialize(msg), ("255.255.255.255", 67))
                sent += 1
            elif now - start > seconds + 3:
                break
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                time.sleep(0.0005)
                continue
            try:
                reply = codec.parse(data)
            except codec.MalformedPacket:
                continue
            mac = pending.get(reply.xid)
            if mac is None or reply.chaddr != mac:
                continue
            if reply.message_type == codec.OFFER:
                req = codec.DhcpMessage(op=1, xid=reply.xid, chaddr=mac, flags=codec.FLAG_BROADCAST, options=(
                    (codec.OPT_MESSAGE_TYPE, bytes((codec.REQUEST,))),
                    (codec.OPT_REQUESTED_IP, codec.ip_bytes(reply.yiaddr)),
                    (codec.OPT_SERVER_ID, reply.option(codec.OPT_SERVER_ID) or b"")))
                sock.sendto(codec.serialize(req), ("255.255.255.255", 67))
            elif reply.message_type == codec.ACK:
                del pending[reply.xid]
                acked += 1
                log.write(json.dumps({"mac": reply.mac, "ip": reply.yiaddr, "t": round(now - start, 3)}) + "\n")
                log.flush()
    print(json.dumps({"sent": sent, "acked": acked}))


# -- servers ------------------------------------------------------------------------
def wpbx_state(conflict_check: bool) -> dict:
    return {"ports": {"eth1": {"mode": "static", "address": f"{LAN_SERVER}/{LAN_PREFIX}"}},
            "dhcp": {"enabled": True, "interface": "eth1", "range_start": POOL[0], "range_end": POOL[1],
                     "max_leases": 65536, "lease_minutes": 60, "gateway": LAN_SERVER, "dns": LAN_SERVER,
                     "conflict_check": conflict_check}}


def start_wpbx(topo, data_dir: Path, conflict_check: bool = True):
    from tests.net.topology import NetnsWpbxd

    pbx = NetnsWpbxd(topo, data_dir).start()
    pbx.call("net.set", wpbx_state(conflict_check))
    result = pbx.call("net.apply", {})
    if result["confirm_within"]:
        pbx.call("net.confirm")
    return pbx


def start_dnsmasq(topo, work: Path):
    return topo.popen("pbx", [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts",
        "--interface=eth1", "--bind-interfaces", "--no-ping", "--dhcp-authoritative",
        f"--dhcp-range={POOL[0]},{POOL[1]},255.255.0.0,1h", "--dhcp-lease-max=70000",
        f"--dhcp-leasefile={work / 'dnsmasq.leases'}", f"--pid-file={work / 'dnsmasq.pid'}",
    ], "bench-dnsmasq.log")


def start_kea(topo, work: Path):
    config = {"Dhcp4": {
        "interfaces-config": {"interfaces": ["eth1"], "dhcp-socket-type": "raw"},
        "lease-database": {"type": "memfile", "persist": True, "name": str(work / "kea-leases4.csv"),
                           "lfc-interval": 0},
        "valid-lifetime": 3600,
        "subnet4": [{"id": 1, "subnet": f"10.135.0.0/{LAN_PREFIX}", "pools": [{"pool": f"{POOL[0]} - {POOL[1]}"}],
                     "option-data": [{"name": "routers", "data": LAN_SERVER}]}],
        "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": str(work / "kea.log")}],
                     "severity": "WARN"}],
    }}
    path = work / "kea-dhcp4.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "KEA_PIDFILE_DIR": str(work), "KEA_LOCKFILE_DIR": str(work)}
    return topo.popen("pbx", ["kea-dhcp4", "-c", str(path)], "bench-kea.log", env=env)


def perfdhcp(topo, rate: int, seconds: int) -> dict:
    # perfdhcp's MAC randomisation repeats the same sequence every run: a fresh base MAC per
    # run makes every exchange a new client (-R randomises the low bytes of the base).
    base = "02:" + ":".join(f"{random.randrange(256):02x}" for _ in range(2)) + ":00:00:00"
    result = topo.run("lan1", ["perfdhcp", "-4", "-l", "lan1", "-r", str(rate), "-p", str(seconds),
                               "-b", f"mac={base}", "-R", "10000000", "-d", str(DROP_TIME),
                               "-W", str(EXIT_WAIT_US)],
                      timeout=seconds + 60)
    text = result.stdout
    (topo.workdir / f"perfdhcp-{rate}-{time.monotonic():.0f}.txt").write_text(text + result.stderr)
    drops = [int(x) for x in re.findall(r"^drops: (\d+)", text, re.M)]
    sent = [int(x) for x in re.findall(r"^sent packets: (\d+)", text, re.M)]
    received = [int(x) for x in re.findall(r"^received packets: (\d+)", text, re.M)]
    delays = re.findall(r"^avg delay: ([\d.]+) ms", text, re.M)
    # perfdhcp's own "Rate:" divides by the period plus the exit wait: count ACKs instead.
    acks = received[1] if len(received) > 1 else 0
    return {"rate": rate, "achieved": acks / seconds, "drops": sum(drops) if drops else -1,
            "discovers": sent[0] if sent else 0, "avg_delay_ms": [float(d) for d in delays],
            "ok": bool(drops) and sum(drops) == 0}


def sweep(topo, name: str, seconds: int) -> dict:
    best = {"rate": 0, "achieved": 0.0}
    runs = []
    for rate in RATES:
        for _attempt in range(ATTEMPTS):
            run = perfdhcp(topo, rate, seconds)
            runs.append(run)
            print(f"  {name:8s} target {rate:5d}/s: {run['achieved']:8.1f} DORA/s, drops {run['drops']},"
                  f" avg delay D-O/R-A {'/'.join(f'{d:.1f}' for d in run['avg_delay_ms'])} ms", flush=True)
            if run["ok"]:
                break
        if not run["ok"]:
            break
        best = run
    return {"best": best, "runs": runs}


# -- durability ---------------------------------------------------------------------
def durability(topo, work: Path) -> dict:
    data = work / "durable"
    pbx = start_wpbx(topo, data)
    out = work / "acks.jsonl"
    client = topo.popen("lan1", [sys.executable, str(Path(__file__).resolve()), "--client", "lan1",
                                 "--client-rate", str(DURABILITY_RATE), "--client-seconds", str(DURABILITY_SECONDS),
                                 "--client-out", str(out)], "bench-client.log",
                        env={**os.environ, "PYTHONPATH": str(REPO)})
    time.sleep(KILL_AFTER)
    acked_before_kill = sum(1 for _ in out.open()) if out.exists() else 0
    pbx.stop(sig=9)
    killed_at = time.monotonic()
    pbx.start()
    restart_s = time.monotonic() - killed_at
    client.wait(DURABILITY_SECONDS + 30)
    pbx.stop()
    acks = [json.loads(line) for line in out.open()]
    db = sqlite3.connect(str(data / "wpbx.db"))
    stored = {ip: (mac, state) for ip, mac, state in db.execute("SELECT ip, mac, state FROM dhcp_leases")}
    db.close()
    lost = [a for a in acks if stored.get(a["ip"]) != (a["mac"], "bound")]
    owners: dict[str, set[str]] = {}
    for a in acks:
        owners.setdefault(a["ip"], set()).add(a["mac"])
    twice = {ip: macs for ip, macs in owners.items() if len(macs) > 1}
    return {"acked": len(acks), "acked_before_kill": acked_before_kill, "lost": len(lost),
            "handed_out_twice": len(twice), "restart_seconds": round(restart_s, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="perfdhcp run length per rate")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--client-rate", type=float, default=DURABILITY_RATE, help=argparse.SUPPRESS)
    parser.add_argument("--client-seconds", type=float, default=DURABILITY_SECONDS, help=argparse.SUPPRESS)
    parser.add_argument("--client-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client, args.client_rate, args.client_seconds, args.client_out)
        return 0
    if os.geteuid() != 0:
        print("bench/dhcp.py needs root (network namespaces)", file=sys.stderr)
        return 2
    missing = [t for t in ("perfdhcp", "dnsmasq", "kea-dhcp4", "ip") if shutil.which(t) is None]
    if missing:
        print(f"missing: {', '.join(missing)} (apt-get install kea-admin kea-dhcp4-server dnsmasq-base)",
              file=sys.stderr)
        return 2
    from tests.net.topology import Topology

    work = Path(tempfile.mkdtemp(prefix="wpbx-bench-dhcp-"))
    topo = Topology(work)
    results = {}
    try:
        topo.build()
        topo.ipr("lan1", lambda ipr: ipr.addr("add", index=ipr.link_lookup(ifname="lan1")[0],
                                              address=LAN_CLIENT, prefixlen=LAN_PREFIX))
        print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared with other work)")
        print(f"DORA/s with 0 drops (perfdhcp, {args.seconds} s per rate, new MACs):", flush=True)
        pbx = start_wpbx(topo, work / "wpbx")
        time.sleep(0.5)
        results["wpbx"] = sweep(topo, "wpbx", args.seconds)
        status = pbx.call("dhcp.status")
        pbx.stop()
        pbx = start_wpbx(topo, work / "wpbx-noprobe", conflict_check=False)
        time.sleep(0.5)
        results["wpbx-np"] = sweep(topo, "wpbx-np", args.seconds)
        pbx.stop()
        proc = start_dnsmasq(topo, work)
        time.sleep(0.5)
        results["dnsmasq"] = sweep(topo, "dnsmasq", args.seconds)
        topo.kill(proc)
        proc = start_kea(topo, work)
        time.sleep(1.0)
        results["kea"] = sweep(topo, "kea", args.seconds)
        topo.kill(proc)
        kea = results["kea"]["best"]["achieved"] or float("nan")
        dns = results["dnsmasq"]["best"]["achieved"] or float("nan")
        print("\nbest zero-drop rate (achieved DORA/s) and ratios:")
        for name in ("wpbx", "wpbx-np", "dnsmasq", "kea"):
            best = results[name]["best"]["achieved"]
            print(f"  {name:8s} {best:8.1f}   / kea {best / kea:5.2f}   / dnsmasq {best / dns:5.2f}")
        print(f"  wpbx server counters after the sweep: {json.dumps(status)}")
        print(f"\nlease durability: {DURABILITY_RATE} DORA/s for {DURABILITY_SECONDS:.0f} s,"
              f" wpbxd killed (SIGKILL) after {KILL_AFTER:.0f} s and restarted:")
        dur = durability(topo, work)
        print(f"  ACKs received by clients: {dur['acked']} ({dur['acked_before_kill']} before the kill);"
              f" leases lost: {dur['lost']}; addresses acknowledged to two clients: {dur['handed_out_twice']};"
              f" restart took {dur['restart_seconds']} s")
        results["durability"] = dur
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        topo.close()
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n(details in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
