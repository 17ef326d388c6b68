"""The seed's network scenarios, applied by a real wpbxd in network namespaces (root).

Peers are real: dnsmasq as the ISP's DHCP server, busybox udhcpc and ISC dhclient as
LAN clients. Kernel state is read back with pyroute2.
"""

import json
import os
import shutil
import socket
import time

import pytest

from tests.net.topology import ISP_ADDRESS, ISP_DNS, NetnsWpbxd, Topology
from wpbxd.net.dhcp import codec

TOOLS = ("dnsmasq", "udhcpc", "dhclient", "ip")


def _need_env() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tool(s): {', '.join(missing)} (make test installs them)")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    _need_env()
    topo = Topology(tmp_path_factory.mktemp("netns"))
    try:
        topo.build()
        topo.start_isp_dnsmasq()
        pbx = NetnsWpbxd(topo, topo.workdir / "data").start()
        yield topo, pbx
    finally:
        topo.close()


def addresses(topo: Topology, role: str, ifname: str) -> list[str]:
    def read(ipr):
        index = ipr.link_lookup(ifname=ifname)
        if not index:
            return None
        return sorted(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
                      for a in ipr.get_addr(family=socket.AF_INET, index=index[0]))
    return topo.ipr(role, read)


def link(topo: Topology, role: str, ifname: str) -> dict | None:
    def read(ipr):
        found = ipr.get_links(ifname=ifname) if ipr.link_lookup(ifname=ifname) else []
        if not found:
            return None
        master = found[0].get_attr("IFLA_MASTER")
        names = {x["index"]: x.get_attr("IFLA_IFNAME") for x in ipr.get_links()}
        return {"up": bool(found[0]["flags"] & 1), "master": names.get(master)}
    return topo.ipr(role, read)


def default_routes(topo: Topology, role: str) -> list[str]:
    return topo.ipr(role, lambda ipr: [r.get_attr("RTA_GATEWAY") for r in ipr.get_routes(family=socket.AF_INET)
                                       if r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY")])


def apply_and_confirm(pbx: NetnsWpbxd, document: dict | None = None, scenario: str | None = None) -> list[str]:
    if scenario:
        pbx.call("net.scenario", {"name": scenario})
    if document:
        pbx.call("net.set", document)
    result = pbx.call("net.apply", {})
    if result["confirm_within"]:
        pbx.call("net.confirm")
    return result["changes"]


def test_factory_state_is_the_seeds_table_separate_networks(box):
    """Seed, "Connexion": WAN DHCP client, LAN1 10.135.0.1/24 with DHCP server, LAN2/3 off."""
    topo, pbx = box
    lease = pbx.wait_for(lambda: pbx.wan_lease("eth0"), "the WAN DHCP lease from the ISP")
    assert lease["address"].startswith("192.0.2.") and lease["gateway"] == ISP_ADDRESS
    assert addresses(topo, "pbx", "eth0") == [lease["address"]]
    assert default_routes(topo, "pbx") == [ISP_ADDRESS]
    assert addresses(topo, "pbx", "eth1") == ["10.135.0.1/24"]
    assert link(topo, "pbx", "eth1")["up"] and not link(topo, "pbx", "eth2")["up"]
    assert not link(topo, "pbx", "eth3")["up"] and link(topo, "pbx", "wbr0") is None
    assert (pbx.data_dir / "resolv.conf").read_text() == f"nameserver {ISP_DNS}\n"
    shown = pbx.ctl("net", "show").stdout
    assert "DHCP client on eth0: BOUND" in shown and "10.135.0.1/24" in shown
    assert pbx.call("net.apply", {})["changes"] == [], "applying the same state changes nothing"


def test_lan_clients_get_leases_with_every_configured_option(box):
    topo, pbx = box
    apply_and_confirm(pbx, {"dhcp": {
        "domain": "office.lan", "dns": "10.135.0.1,10.135.0.2", "ntp": "10.135.0.1,10.135.0.3",
        "wins": "10.135.0.4,10.135.0.5", "lease_minutes": 30,
        "vendor_options": {"WildixPhone": "0104cafe0001"}, "refuse_unknown": False}})
    code, env = topo.udhcpc("lan1", "lan1", "udhcpc1", "phone-a", vendor="WildixPhone W-AIR")
    assert code == 0, (topo.workdir / "udhcpc1.bound").exists()
    assert env["ip"].startswith("10.135.0.") and env["subnet"] == "255.255.255.0"
    assert env["router"] == "10.135.0.1"
    assert env["dns"].split() == ["10.135.0.1", "10.135.0.2"]
    assert env["domain"] == "office.lan"
    assert env["ntpsrv"].split() == ["10.135.0.1", "10.135.0.3"]
    assert env["wins"].split() == ["10.135.0.4", "10.135.0.5"]
    assert env["tftp"] == "10.135.0.1"                                       # option 66
    assert env["opt150"] == "0a870001"                                      # option 150
    assert bytes.fromhex(env["opt160"]).decode() == "http://10.135.0.1:8080/provisioning/"
    assert env["opt43"] == "0104cafe0001"                                   # vendor class matched
    assert env["lease"] == "1800"

    topo.add_macvlan("lan1", "lan1", "lan1b", "02:00:00:00:1b:01")
    denv = topo.dhclient("lan1", "lan1b", "dhclient1", "phone-b")
    assert denv, "dhclient got no lease"
    assert denv["new_ip_address"].startswith("10.135.0.") and denv["new_ip_address"] != env["ip"]
    assert denv["new_routers"] == "10.135.0.1" and denv["new_domain_name"] == "office.lan"
    assert denv["new_ntp_servers"] == "10.135.0.1 10.135.0.3"
    assert denv["new_netbios_name_servers"] == "10.135.0.4 10.135.0.5"
    assert denv["new_tftp_server_name"] == "10.135.0.1" and denv["new_tftp150"] == "10.135.0.1"
    assert denv["new_prov160"] == "http://10.135.0.1:8080/provisioning/"
    assert "new_vendor_encapsulated_options" not in denv, "no option 43 for another vendor"

    table = json.loads(pbx.ctl("dhcp", "leases", "--json").stdout)
    by_host = {row["hostname"]: row for row in table}
    assert by_host["phone-a"]["ip"] == env["ip"] and by_host["phone-a"]["vendor_class"] == "WildixPhone W-AIR"
    assert by_host["phone-b"]["ip"] == denv["new_ip_address"]
    assert by_host["phone-b"]["mac"] == "02:00:00:00:1b:01"
    assert all(0 < row["expires_in"] <= 1800 for row in table)


def test_refuse_unknown_clients_serves_only_known_devices(box):
    topo, pbx = box
    topo.add_macvlan("lan1", "lan1", "lan1k", "02:00:00:00:1c:01")
    topo.add_macvlan("lan1", "lan1", "lan1u", "02:00:00:00:1c:02")
    pbx.ctl("dhcp", "device", "add", "02:00:00:00:1c:01", "--name", "known phone")
    apply_and_confirm(pbx, {"dhcp": {"refuse_unknown": True}})
    code, env = topo.udhcpc("lan1", "lan1k", "known", "known-phone")
    assert code == 0 and env["ip"].startswith("10.135.0.")
    code, env = topo.udhcpc("lan1", "lan1u", "unknown", "stranger", tries=2)
    assert code != 0 and env == {}, "an unknown client gets no address"
    assert pbx.call("dhcp.status")[0]["dropped"] >= 2
    apply_and_confirm(pbx, {"dhcp": {"refuse_unknown": False}})


def test_malformed_packets_are_counted_and_the_server_keeps_serving(box):
    topo, pbx = box
    garbage = [b"\x01" * 50, b"\x01\x01\x06\x00" + bytes(232) + b"BAD!" + b"\xff",
               codec.serialize(codec.DhcpMessage(op=1, xid=1, chaddr=bytes(6)))[:240] + bytes((12, 250, 1))]
    before = pbx.call("dhcp.status")[0].get("malformed", 0)
    sender = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
              "s.setsockopt(socket.SOL_SOCKET,socket.SO_BROADCAST,1)\n"
              "s.setsockopt(socket.SOL_SOCKET,25,b'lan1')\n"
              f"for p in {garbage!r}: s.sendto(p,('255.255.255.255',67))\n")
    topo.run("lan1", ["python3", "-c", sender], check=True)
    pbx.wait_for(lambda: pbx.call("dhcp.status")[0].get("malformed", 0) >= before + 3, "malformed counter")
    code, env = topo.udhcpc("lan1", "lan1", "after-garbage", "phone-a")
    assert code == 0 and env["ip"].startswith("10.135.0.")


def test_leases_survive_a_restart(box):
    topo, pbx = box
    before = {r["mac"]: r["ip"] for r in pbx.call("dhcp.leases")}
    assert before
    pbx.stop()
    pbx.start()
    assert pbx.call("net.show")["last_changes"] == [], "a restart keeps the kernel state (no WAN flap)"
    assert {r["mac"]: r["ip"] for r in pbx.call("dhcp.leases")} == before
    code, env = topo.udhcpc("lan1", "lan1b", "after-restart", "phone-b")
    assert code == 0 and env["ip"] == before["02:00:00:00:1b:01"]


def test_an_address_in_use_is_skipped_after_an_arp_probe(box):
    topo, pbx = box
    topo.add_macvlan("lan1", "lan1", "squat", "02:00:00:00:1d:01")
    topo.ipr("lan1", lambda ipr: ipr.addr("add", index=ipr.link_lookup(ifname="squat")[0],
                                          address="10.135.0.210", prefixlen=24))
    apply_and_confirm(pbx, {"dhcp": {"range_start": "10.135.0.210", "range_end": "10.135.0.212"}})
    topo.add_macvlan("lan1", "lan1", "lan1p", "02:00:00:00:1d:02")
    code, env = topo.udhcpc("lan1", "lan1p", "probed", "phone-p")
    assert code == 0 and env["ip"] == "10.135.0.211", "10.135.0.210 answered the ARP probe"
    table = {r["ip"]: r for r in pbx.call("dhcp.leases", {"all": True})}
    assert table["10.135.0.210"]["state"] == "conflict"
    assert pbx.call("dhcp.status")[0]["conflicts"] == 1
    apply_and_confirm(pbx, {"dhcp": {"range_start": "10.135.0.100", "range_end": "10.135.0.200"}})


def test_a_new_state_changes_only_what_differs(box):
    topo, pbx = box
    pbx.call("net.set", {"ports": {"eth3": {"mode": "static", "address": "172.16.3.1/24"}}})
    assert pbx.call("net.apply", {})["changes"] == ["eth3 up", "eth3 +172.16.3.1/24"]
    pbx.call("net.confirm")
    pbx.call("net.set", {"ports": {"eth3": {"mode": "disabled"}}})
    assert pbx.call("net.apply", {})["changes"] == ["eth3 down", "eth3 -172.16.3.1/24"]
    pbx.call("net.confirm")
    assert addresses(topo, "pbx", "eth3") == [] and not link(topo, "pbx", "eth3")["up"]


def test_static_wan_with_gateway_and_dns(box):
    topo, pbx = box
    apply_and_confirm(pbx, {"ports": {"eth0": {"mode": "static", "address": "192.0.2.200/24",
                                               "gateway": ISP_ADDRESS, "dns": "192.0.2.53,192.0.2.54"}}})
    assert addresses(topo, "pbx", "eth0") == ["192.0.2.200/24"]
    assert default_routes(topo, "pbx") == [ISP_ADDRESS]
    assert (pbx.data_dir / "resolv.conf").read_text() == "nameserver 192.0.2.53\nnameserver 192.0.2.54\n"
    assert pbx.call("net.show")["wan_clients"] == [], "no DHCP client on a static WAN"
    assert topo.run("pbx", ["ping", "-c", "1", "-W", "2", ISP_ADDRESS]).returncode == 0
    apply_and_confirm(pbx, {"ports": {"eth0": {"mode": "dhcp", "address": "", "gateway": "", "dns": ""}}})
    pbx.wait_for(lambda: (addresses(topo, "pbx", "eth0") or [""])[0].startswith("192.0.2.")
                 and addresses(topo, "pbx", "eth0") != ["192.0.2.200/24"], "the DHCP address back on eth0")


def test_host_mode_touches_no_interface(tmp_path):
    _need_env()
    topo = Topology(tmp_path)
    try:
        topo.build()
        host = NetnsWpbxd(topo, tmp_path / "host-data", mode="host").start()
        assert host.call("net.show")["managing"] is False
        assert "host mode" in host.ctl("net", "apply", check=False).stderr
        for port in ("eth0", "eth1", "eth2", "eth3"):
            assert addresses(topo, "pbx", port) == [] and not link(topo, "pbx", port)["up"]
        assert host.call("dhcp.status") == []
    finally:
        topo.close()


def test_shared_scenario_leaves_only_the_wan_port(box):
    topo, pbx = box
    apply_and_confirm(pbx, scenario="shared")
    assert addresses(topo, "pbx", "eth1") == [] and not link(topo, "pbx", "eth1")["up"]
    assert pbx.call("dhcp.status") == [], "no DHCP server in the shared scenario"
    assert addresses(topo, "pbx", "eth0")[0].startswith("192.0.2.")
    apply_and_confirm(pbx, scenario="separate")
    assert addresses(topo, "pbx", "eth1") == ["10.135.0.1/24"]


def test_unconfirmed_apply_that_cuts_the_admin_off_rolls_back_by_itself(box):
    topo, pbx = box
    topo.ipr("lan1", lambda ipr: ipr.addr("add", index=ipr.link_lookup(ifname="lan1")[0],
                                          address="10.135.0.250", prefixlen=24))
    assert topo.run("lan1", ["ping", "-c", "1", "-W", "1", "10.135.0.1"]).returncode == 0
    pbx.call("net.set", {"ports": {"eth1": {"address": "10.136.0.1/24"}},
                         "dhcp": {"range_start": "10.136.0.100", "range_end": "10.136.0.200",
                                  "gateway": "10.136.0.1", "dns": "10.136.0.1", "ntp": "", "wins": ""}})
    result = pbx.call("net.apply", {"timeout": 3})
    assert "eth1 +10.136.0.1/24" in result["changes"]
    assert addresses(topo, "pbx", "eth1") == ["10.136.0.1/24"]
    assert topo.run("lan1", ["ping", "-c", "1", "-W", "1", "10.135.0.1"]).returncode != 0, "cut off"
    pbx.wait_for(lambda: pbx.call("net.show")["last_rollback"], "the automatic rollback", timeout=15)
    assert addresses(topo, "pbx", "eth1") == ["10.135.0.1/24"]
    assert topo.run("lan1", ["ping", "-c", "1", "-W", "2", "10.135.0.1"]).returncode == 0
    desired = pbx.call("net.show")["desired"]
    assert desired["ports"][1]["address"] == "10.135.0.1/24", "the desired state is the rolled-back one"
    assert pbx.call("dhcp.status")[0]["range"] == "10.135.0.100-10.135.0.200"
    time.sleep(0.1)
