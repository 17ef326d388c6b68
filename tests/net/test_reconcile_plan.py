"""Pure parts of the reconciler and the DHCP server adapter (no root needed)."""

import pytest

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.events import LeaseGranted
from wpbxd.net import model
from wpbxd.net.dhcp import codec, lease_store
from wpbxd.net.dhcp.leases import PoolConfig, Reply
from wpbxd.net.dhcp.server import DhcpServer
from wpbxd.net.reconcile import (
    WanLease,
    _canonical,
    _decoded_key,
    _parse_key,
    plan,
    port_blocks,
    voice_keys,
)


@pytest.mark.parametrize("low, high", [(10000, 20000), (5060, 5060), (0, 65535), (16384, 32767), (1, 2)])
def test_port_blocks_cover_the_range_exactly(low, high):
    covered = []
    for first, mask in port_blocks(low, high):
        size = (~mask & 0xFFFF) + 1
        assert first & ~mask & 0xFFFF == 0, "blocks are aligned"
        covered.extend(range(first, first + size))
    assert covered == list(range(low, high + 1))


def test_plan_of_the_seed_scenarios():
    state = model.factory_state()
    p = plan(state, {}, 5060, (10000, 20000))
    assert p.up == {"eth0", "eth1"} and not p.bridge and p.shaper is None
    assert p.addresses["eth1"] == {"10.135.0.1/24"} and p.addresses["eth0"] == frozenset()
    assert p.dhcp_clients == ("eth0",) and p.default_route is None
    leased = plan(state, {"eth0": WanLease("eth0", "192.0.2.7/24", "192.0.2.1")}, 5060, (10000, 20000))
    assert leased.addresses["eth0"] == {"192.0.2.7/24"} and leased.default_route == ("192.0.2.1", "eth0")
    shaper = model.from_dict({"shaper": {"upload_kbit": 1000}}, model.with_scenario(state, "shaper"))
    p = plan(shaper, {}, 5060, (10000, 20000))
    assert p.bridge and p.up == {"eth0", "eth1", "eth2", "wbr0"}, "no ifb without a download limit"
    assert p.dhcp_clients == ("wbr0",) and p.shaper.upload_kbit == 1000


def test_voice_keys_match_ef_cs3_sip_and_rtp():
    from wpbxd.net.reconcile import ShaperPlan
    keys = voice_keys(ShaperPlan("eth0", 1000, 0, 5060, 10000, 10003))
    assert _parse_key(keys[0]) == ((1, 0xB8, 0xFC),), "DSCP EF in the TOS byte"
    assert _parse_key(keys[1]) == ((1, 0x60, 0xFC),), "DSCP CS3"
    assert _parse_key(keys[2]) == ((20, 0x13, 0xFF), (21, 0xC4, 0xFF)), "source port 5060"
    assert _parse_key(keys[3]) == ((22, 0x13, 0xFF), (23, 0xC4, 0xFF)), "destination port 5060"
    assert len(keys) == 2 + 2 + 2, "10000-10003 is one aligned block"


def test_pyroute2_key_decoding_is_canonicalised():
    # what pyroute2 0.9.7 returns for a kernel key mask 0xffff0000, value 0x13c40000, offset 20
    decoded = {"key_mask": 0, "key_val": 0xFFFF0000, "key_off": 0xC413, "key_offmask": 20}
    assert _decoded_key(decoded) == _canonical(0x13C40000, 0xFFFF0000, 20)
    assert _decoded_key({"key_mask": 0xFF, "key_val": 0x11, "key_off": 4, "key_offmask": 0}) == ((7, 0x11, 0xFF),)


POOL = PoolConfig(interface="eth1", server_ip="10.135.0.1", subnet="10.135.0.0/24",
                  range_start="10.135.0.100", range_end="10.135.0.110", probe=False)


def _server(tmp_path):
    store = Store(tmp_path / "db")
    store.migrate()
    bus = EventBus()
    events = []
    bus.subscribe(LeaseGranted, events.append)
    server = DhcpServer(POOL, store, bus, clock=lambda: 1000.0)
    sent: list[Reply] = []
    server._send = sent.append
    return store, server, events, sent


def _dora(server, mac: bytes) -> None:
    discover = codec.DhcpMessage(op=1, xid=1, chaddr=mac, options=((53, b"\x01"), (12, b"desk")))
    server._execute(server.machine.handle(discover, 1000.0))
    offer = server._send.__self__[-1].message
    request = codec.DhcpMessage(op=1, xid=1, chaddr=mac, options=(
        (53, b"\x03"), (50, codec.ip_bytes(offer.yiaddr)), (54, codec.ip_bytes("10.135.0.1")), (12, b"desk")))
    server._execute(server.machine.handle(request, 1000.0))


def test_server_commits_the_lease_then_acks_and_publishes(tmp_path):
    store, server, events, sent = _server(tmp_path)
    _dora(server, b"\x02\x00\x00\x00\x00\x01")
    assert [r.message.message_type for r in sent] == [codec.OFFER, codec.ACK]
    rows = lease_store.table(store, 1000.0)
    assert [(r["ip"], r["mac"], r["hostname"]) for r in rows] == [("10.135.0.100", "02:00:00:00:00:01", "desk")]
    assert events == [LeaseGranted(mac="02:00:00:00:00:01", ip="10.135.0.100", hostname="desk")]
    assert server.status()["granted"] == 1
    restarted = DhcpServer(POOL, store, None, clock=lambda: 1000.0)
    assert restarted.machine.active_count(1000.0) == 1, "leases are loaded back from the store"


def test_an_ack_whose_lease_cannot_be_stored_is_not_sent(tmp_path):
    store, server, events, sent = _server(tmp_path)
    store.execute("DROP TABLE dhcp_leases")
    _dora(server, b"\x02\x00\x00\x00\x00\x02")
    assert [r.message.message_type for r in sent] == [codec.OFFER]
    assert server.counters["store_errors"] == 1 and events == []
