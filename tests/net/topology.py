"""The box built out of network namespaces, for the integration tests and the bench.

``pbx`` holds eth0-eth3 (veth); their peers sit in ``isp`` (eth0's peer ``wan``,
192.0.2.1/24, where a real dnsmasq serves DHCP), ``lan1`` (``lan1``), ``lan2``
(``lan2``) and ``lan3`` (``lan3``). Names carry a unique suffix per run and
everything is removed by ``close()``, also after failures. Processes are started
with ``ip netns exec`` and stopped by their PID only. Nothing here sends traffic
outside these namespaces.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute, netns

from tests.daemon_runner import wait_until_ready
from wpbxd.console import client

REPO = Path(__file__).resolve().parents[2]
ISP_ADDRESS = "192.0.2.1"
ISP_DNS = "192.0.2.53"
ISP_RANGE = ("192.0.2.50", "192.0.2.150")
PEERS = {"eth0": ("isp", "wan"), "eth1": ("lan1", "lan1"), "eth2": ("lan2", "lan2"), "eth3": ("lan3", "lan3")}
START_TIMEOUT = 20.0  # seconds

UDHCPC_SCRIPT = """#!/bin/sh
# test hook: record what udhcpc got; never touches the system's resolv.conf
env | sort > "{out}.$1"
"""
DHCLIENT_SCRIPT = """#!/bin/sh
# test hook: record what dhclient got; never touches the system's resolv.conf
env | sort > "{out}.$reason"
"""
DHCLIENT_CONF = """
option tftp150 code 150 = array of ip-address;
option prov160 code 160 = text;
send host-name "{hostname}";
request subnet-mask, broadcast-address, routers, domain-name-servers, domain-name,
        ntp-servers, netbios-name-servers, tftp-server-name, tftp150, prov160,
        vendor-encapsulated-options, dhcp-lease-time;
"""


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


@dataclass
class Topology:
    workdir: Path
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    procs: list[subprocess.Popen] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"wpbxt-{role}-{self.suffix}"

    # -- building -------------------------------------------------------------------
    def build(self) -> "Topology":
        for role in ("pbx", "isp", "lan1", "lan2", "lan3"):
            netns.create(self.ns(role))
            self.created.append(self.ns(role))
            with IPRoute(netns=self.ns(role)) as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        with IPRoute(netns=self.ns("pbx")) as ipr:
            for port, (role, peer) in PEERS.items():
                ipr.link("add", ifname=port, kind="veth", peer=peer)
                ipr.link("set", index=ipr.link_lookup(ifname=peer)[0], net_ns_fd=self.ns(role))
        for role, peer in PEERS.values():
            with IPRoute(netns=self.ns(role)) as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname=peer)[0], state="up")
        self.ipr("isp", lambda ipr: ipr.addr("add", index=ipr.link_lookup(ifname="wan")[0],
                                             address=ISP_ADDRESS, prefixlen=24))
        return self

    def ipr(self, role: str, action):
        with IPRoute(netns=self.ns(role)) as ipr:
            return action(ipr)

    def add_macvlan(self, role: str, parent: str, name: str, mac: str) -> None:
        def add(ipr: IPRoute) -> None:
            ipr.link("add", ifname=name, kind="macvlan", link=ipr.link_lookup(ifname=parent)[0],
                     macvlan_mode="bridge", address=mac)
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
        self.ipr(role, add)

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.kill(proc)
        for name in self.created:
            try:
                netns.remove(name)
            except OSError:
                pass

    # -- processes ------------------------------------------------------------------
    def popen(self, role: str, argv: list[str], log: str, **kw) -> subprocess.Popen:
        out = open(self.workdir / log, "ab")
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(role), *argv], stdout=out,
                                stderr=subprocess.STDOUT, cwd=self.workdir, **kw)
        out.close()
        self.procs.append(proc)
        return proc

    def run(self, role: str, argv: list[str], timeout: float = 60.0, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.ns(role), *argv], capture_output=True,
                              text=True, timeout=timeout, cwd=self.workdir, check=check)

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def start_isp_dnsmasq(self) -> subprocess.Popen:
        lease_file = self.workdir / "isp-dnsmasq.leases"
        return self.popen("isp", [
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--no-resolv",
            "--no-hosts", "--log-dhcp", "--log-facility=-", "--interface=wan", "--bind-interfaces", "--no-ping", "--dhcp-authoritative",
            f"--dhcp-range={ISP_RANGE[0]},{ISP_RANGE[1]},255.255.255.0,1h",
            f"--dhcp-option=3,{ISP_ADDRESS}", f"--dhcp-option=6,{ISP_DNS}",
            f"--dhcp-leasefile={lease_file}", f"--pid-file={self.workdir / 'isp-dnsmasq.pid'}",
        ], "isp-dnsmasq.log")

    def udhcpc(self, role: str, iface: str, name: str, hostname: str, vendor: str = "",
               tries: int = 4) -> tuple[int, dict[str, str]]:
        """Run busybox udhcpc once; return its exit code and the 'bound' environment."""
        script = self.workdir / f"{name}.sh"
        script.write_text(UDHCPC_SCRIPT.format(out=self.workdir / name))
        script.chmod(0o755)
        argv = [shutil.which("udhcpc") or "udhcpc", "-i", iface, "-f", "-q", "-n", "-t", str(tries), "-T", "1",
                "-A", "1", "-s", str(script), "-x", f"hostname:{hostname}",
                *(f"-O{o}" for o in ("ntpsrv", "wins", "tftp", "domain", "dns", "router", "subnet",
                                     "0x96", "0xa0", "0x2b"))]
        if vendor:
            argv += ["-V", vendor]
        result = self.run(role, argv, timeout=60)
        bound = self.workdir / f"{name}.bound"
        return result.returncode, env_file(bound) if bound.exists() else {}

    def dhclient(self, role: str, iface: str, name: str, hostname: str, wait: float = 20.0) -> dict[str, str]:
        """Run ISC dhclient in the foreground until BOUND; return the BOUND environment."""
        script = self.workdir / f"{name}.sh"
        script.write_text(DHCLIENT_SCRIPT.format(out=self.workdir / name))
        script.chmod(0o755)
        conf = self.workdir / f"{name}.conf"
        conf.write_text(DHCLIENT_CONF.format(hostname=hostname))
        proc = self.popen(role, ["dhclient", "-d", "-1", "-v", "-cf", str(conf), "-sf", str(script),
                                 "-pf", str(self.workdir / f"{name}.pid"),
                                 "-lf", str(self.workdir / f"{name}.leases"), iface], f"{name}.log")
        bound = self.workdir / f"{name}.BOUND"
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not bound.exists() and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(0.2)
        self.kill(proc)
        return env_file(bound) if bound.exists() else {}


@dataclass
class NetnsWpbxd:
    """A wpbxd in appliance mode inside the ``pbx`` namespace."""

    topo: Topology
    data_dir: Path
    proc: subprocess.Popen | None = None
    mode: str = "appliance"

    def start(self) -> "NetnsWpbxd":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = self.topo.popen("pbx", [
            sys.executable, "-m", "wpbxd.daemon", "--mode", self.mode, "--console-tty", "none",
            "--data", str(self.data_dir), "--sip-listen", "127.0.0.1:5060",
            "--web-listen", "127.0.0.1:8080", "--rtp-ports", "10000-10999", "--log-level", "DEBUG",
        ], f"wpbxd-{self.data_dir.name}.log", env={**os.environ, "PYTHONPATH": str(REPO)})
        wait_until_ready(self, START_TIMEOUT, poll=0.1)
        return self

    def call(self, cmd: str, args: dict | None = None):
        return client.request(self.data_dir, cmd, args)

    def ctl(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "wpbxd.console.wpbxctl", "--data", str(self.data_dir),
                                 *argv], capture_output=True, text=True, cwd=REPO, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"wpbxctl {' '.join(argv)} failed: {result.stderr}")
        return result

    def log(self) -> str:
        path = self.topo.workdir / f"wpbxd-{self.data_dir.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.topo.kill(self.proc, sig)

    def wait_for(self, predicate, what: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.log()[-4000:]}")

    def wan_lease(self, device: str) -> dict | None:
        for c in self.call("net.show")["wan_clients"]:
            if c["interface"] == device and c["lease"]:
                return c["lease"]
        return None
