"""Scenario 3 (seed: "avec régulateur de trafic"): wbr0 = eth0 + eth2, HTB shaper, iperf3 (root).

The numbers are printed (run with ``-s``) as information; the asserts are functional
with generous margins: the EF flow loses no packet, bulk stays under the limit.
"""

import json
import os
import shutil
import socket
import threading

import pytest

from tests.net.test_netns_scenarios import addresses, apply_and_confirm, default_routes, link
from tests.net.topology import ISP_ADDRESS, NetnsWpbxd, Topology

UPLOAD_KBIT = 2000
DOWNLOAD_KBIT = 4000
RUN_SECONDS = 5
EF_TOS = 0xB8            # DSCP 46 (EF) in the TOS byte
EF_PACKET = 160          # bytes of payload: G.711 20 ms
EF_RATE = "64k"          # 160 B x 8 x 50 packets/s
MARGIN = 1.2             # bulk may exceed its limit by 20 % (HTB burst, measurement edges)


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    missing = [t for t in ("dnsmasq", "udhcpc", "iperf3", "ping", "ip") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tool(s): {', '.join(missing)} (make test installs them)")
    topo = Topology(tmp_path_factory.mktemp("netns-shaper"))
    try:
        topo.build()
        topo.start_isp_dnsmasq()
        pbx = NetnsWpbxd(topo, topo.workdir / "data").start()
        pbx.wait_for(lambda: pbx.wan_lease("eth0"), "the WAN lease on eth0")
        yield topo, pbx
    finally:
        topo.close()


def tc_classes(topo: Topology, ifname: str) -> dict[int, int]:
    def read(ipr):
        index = ipr.link_lookup(ifname=ifname)[0]
        return {c["handle"]: c.get_attr("TCA_OPTIONS").get_attr("TCA_HTB_PARMS")["ceil"]
                for c in ipr.get_classes(index=index) if c.get_attr("TCA_KIND") == "htb"}
    return topo.ipr("pbx", read)


def qdisc_kinds(topo: Topology, ifname: str) -> set[str]:
    def read(ipr):
        index = ipr.link_lookup(ifname=ifname)[0]
        return {q.get_attr("TCA_KIND") for q in ipr.get_qdiscs(index=index)}
    return topo.ipr("pbx", read)


def test_shaper_scenario_bridges_eth0_and_eth2_and_forwards(box):
    topo, pbx = box
    wan_before = pbx.wan_lease("eth0")["address"]
    changes = apply_and_confirm(pbx, {"shaper": {"upload_kbit": UPLOAD_KBIT, "download_kbit": DOWNLOAD_KBIT}},
                                scenario="shaper")
    assert "wbr0 created" in changes
    assert link(topo, "pbx", "eth0")["master"] == "wbr0" and link(topo, "pbx", "eth2")["master"] == "wbr0"
    assert link(topo, "pbx", "wbr0")["up"] and addresses(topo, "pbx", "eth0") == []
    lease = pbx.wait_for(lambda: pbx.wan_lease("wbr0"), "the WAN lease on wbr0")
    assert lease["address"] == wan_before, "wbr0 takes over eth0's settings (and its MAC)"
    pbx.wait_for(lambda: default_routes(topo, "pbx") == [ISP_ADDRESS], "the default route via wbr0")
    assert addresses(topo, "pbx", "eth1") == ["10.135.0.1/24"]
    assert {"htb", "ingress"} <= qdisc_kinds(topo, "eth0") and "htb" in qdisc_kinds(topo, "ifb0")
    assert tc_classes(topo, "eth0")[0x10001] == UPLOAD_KBIT * 1000 // 8
    assert tc_classes(topo, "ifb0")[0x10001] == DOWNLOAD_KBIT * 1000 // 8
    assert pbx.call("net.apply", {})["changes"] == [], "applying the same state changes nothing"
    pbx.stop()
    pbx.start()
    assert pbx.call("net.show")["last_changes"] == [], "a new process finds the same bridge and tc tree"

    code, env = topo.udhcpc("lan2", "lan2", "lan2-isp", "laptop")
    assert code == 0 and env["ip"].startswith("192.0.2."), "DHCP from the ISP crosses wbr0"
    topo.ipr("lan2", lambda ipr: ipr.addr("add", index=ipr.link_lookup(ifname="lan2")[0],
                                          address=env["ip"], prefixlen=24))
    assert topo.run("lan2", ["ping", "-c", "2", "-W", "2", ISP_ADDRESS]).returncode == 0


def _iperf(topo: Topology, argv: list[str], out: dict, key: str) -> None:
    result = topo.run("lan2", ["iperf3", "-J", "-c", ISP_ADDRESS, *argv], timeout=RUN_SECONDS + 30)
    out[key] = json.loads(result.stdout) if result.stdout.strip() else {"error": result.stderr}


def test_bulk_is_held_to_the_upload_limit_while_ef_voice_loses_nothing(box):
    topo, pbx = box
    if not addresses(topo, "lan2", "lan2"):
        pytest.skip("needs the bridge test's address on lan2")
    for port in (5201, 5202):
        topo.popen("isp", ["iperf3", "-s", "-p", str(port), "-B", ISP_ADDRESS], f"iperf3-{port}.log")
    topo.run("isp", ["sleep", "0.5"])
    results: dict = {}
    voice = threading.Thread(target=_iperf, args=(topo, ["-u", "-p", "5202", "-b", EF_RATE, "-l", str(EF_PACKET),
                                                          "--tos", str(EF_TOS), "-t", str(RUN_SECONDS)],
                                                  results, "voice"))
    ping = threading.Thread(target=lambda: results.__setitem__("ping_ef", topo.run(
        "lan2", ["ping", "-Q", str(EF_TOS), "-i", "0.2", "-c", str(RUN_SECONDS * 4), ISP_ADDRESS]).stdout))
    plain = threading.Thread(target=lambda: results.__setitem__("ping_plain", topo.run(
        "lan2", ["ping", "-i", "0.2", "-c", str(RUN_SECONDS * 4), ISP_ADDRESS]).stdout))
    for t in (voice, ping, plain):
        t.start()
    _iperf(topo, ["-p", "5201", "-t", str(RUN_SECONDS)], results, "bulk")
    for t in (voice, ping, plain):
        t.join()
    _iperf(topo, ["-p", "5201", "-t", "3", "-R"], results, "download")

    bulk_kbit = results["bulk"]["end"]["sum_received"]["bits_per_second"] / 1000
    down_kbit = results["download"]["end"]["sum_received"]["bits_per_second"] / 1000
    vsum = results["voice"]["end"]["sum"]
    ef_rtt = results["ping_ef"].strip().splitlines()[-1]
    plain_rtt = results["ping_plain"].strip().splitlines()[-1]
    print(f"\nshaper: upload limit {UPLOAD_KBIT} kbit/s -> bulk TCP {bulk_kbit:.0f} kbit/s "
          f"({bulk_kbit / UPLOAD_KBIT:.2f} of the limit)")
    print(f"shaper: download limit {DOWNLOAD_KBIT} kbit/s -> bulk TCP {down_kbit:.0f} kbit/s "
          f"({down_kbit / DOWNLOAD_KBIT:.2f} of the limit)")
    print(f"shaper: EF UDP 50 pps: {vsum['packets']} sent, {vsum['lost_packets']} lost, "
          f"jitter {vsum['jitter_ms']:.2f} ms")
    print(f"shaper: ping EF during bulk: {ef_rtt}")
    print(f"shaper: ping best-effort during bulk: {plain_rtt}")
    assert vsum["lost_packets"] == 0, "the EF flow lost packets"
    assert vsum["packets"] >= RUN_SECONDS * 50 * 0.9
    assert bulk_kbit <= UPLOAD_KBIT * MARGIN
    assert bulk_kbit >= UPLOAD_KBIT * 0.3, "bulk got far less than the limit"
    assert down_kbit <= DOWNLOAD_KBIT * MARGIN


def test_back_to_separate_removes_the_bridge_and_shaper(box):
    topo, pbx = box
    changes = apply_and_confirm(pbx, scenario="separate")
    assert "wbr0 removed" in changes and "ifb0 removed" in changes
    assert link(topo, "pbx", "wbr0") is None and link(topo, "pbx", "eth0")["master"] is None
    assert qdisc_kinds(topo, "eth0").isdisjoint({"htb", "ingress"})
    pbx.wait_for(lambda: pbx.wan_lease("eth0"), "the WAN lease back on eth0")
    pbx.wait_for(lambda: addresses(topo, "pbx", "eth0") and default_routes(topo, "pbx") == [ISP_ADDRESS],
                 "eth0's address and route")
    assert not socket.inet_aton(addresses(topo, "pbx", "eth0")[0].split("/")[0]) == b""
