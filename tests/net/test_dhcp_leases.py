"""Lease state machine (RFC 2131 4.3), sans-IO: time is passed in, no sockets."""

from wpbxd.net.dhcp import codec
from wpbxd.net.dhcp.codec import DhcpMessage
from wpbxd.net.dhcp.leases import (
    BOUND,
    CONFLICT,
    DECLINED,
    RELEASED,
    Commit,
    Dropped,
    Granted,
    Lease,
    LeaseMachine,
    PoolConfig,
    Probe,
    Reply,
)

SERVER = "10.135.0.1"
NOW = 1_000_000.0


def pool(**kw) -> PoolConfig:
    base = dict(interface="eth1", server_ip=SERVER, subnet="10.135.0.0/24",
                range_start="10.135.0.100", range_end="10.135.0.199", lease_time=600,
                max_leases=50, domain="office.lan", gateway=SERVER, dns=(SERVER, "10.135.0.2"),
                ntp=(SERVER,), wins=("10.135.0.3", "10.135.0.4"), tftp_server="10.135.0.1",
                tftp_addresses=(SERVER,), provisioning_url="http://10.135.0.1/prov/",
                vendor_options=(("Wildix", b"\x01\x04test"),), probe=False)
    base.update(kw)
    return PoolConfig(**base)


def mac(n: int) -> bytes:
    return bytes((0x02, 0, 0, 0, 0, n))


def msg(kind: int, n: int = 1, xid: int = 7, ciaddr: str = "0.0.0.0", **options) -> DhcpMessage:
    opts = [(codec.OPT_MESSAGE_TYPE, bytes((kind,)))]
    if "requested" in options:
        opts.append((codec.OPT_REQUESTED_IP, codec.ip_bytes(options["requested"])))
    if "server" in options:
        opts.append((codec.OPT_SERVER_ID, codec.ip_bytes(options["server"])))
    if "hostname" in options:
        opts.append((codec.OPT_HOSTNAME, options["hostname"].encode()))
    if "vendor" in options:
        opts.append((codec.OPT_VENDOR_CLASS, options["vendor"].encode()))
    return DhcpMessage(op=codec.BOOTREQUEST, xid=xid, chaddr=mac(n), ciaddr=ciaddr, options=tuple(opts))


def replies(actions) -> list[Reply]:
    return [a for a in actions if isinstance(a, Reply)]


def dora(m: LeaseMachine, n: int, now: float = NOW, **extra) -> str:
    offer = replies(m.handle(msg(codec.DISCOVER, n, **extra), now))[0].message
    assert offer.message_type == codec.OFFER
    ack_actions = m.handle(msg(codec.REQUEST, n, requested=offer.yiaddr, server=SERVER, **extra), now)
    ack = replies(ack_actions)[0].message
    assert ack.message_type == codec.ACK, ack.text_option(codec.OPT_MESSAGE)
    return ack.yiaddr


def test_dora_grants_an_address_in_range_with_every_configured_option():
    m = LeaseMachine(pool())
    offer_actions = m.handle(msg(codec.DISCOVER, vendor="Wildix-W-AIR"), NOW)
    offer = replies(offer_actions)[0]
    assert offer.dest_ip == "255.255.255.255" and offer.dest_port == 68
    yiaddr = offer.message.yiaddr
    assert yiaddr == "10.135.0.100"
    actions = m.handle(msg(codec.REQUEST, requested=yiaddr, server=SERVER, hostname="w-air",
                           vendor="Wildix-W-AIR"), NOW)
    kinds = [type(a) for a in actions]
    assert kinds == [Commit, Reply, Granted], "a lease is committed before its ACK is sent"
    ack = actions[1].message
    assert ack.ip_option(codec.OPT_SUBNET_MASK) == "255.255.255.0"
    assert ack.ip_option(codec.OPT_ROUTER) == SERVER
    assert codec.ip_list(ack.option(codec.OPT_DNS)) == [SERVER, "10.135.0.2"]
    assert ack.text_option(codec.OPT_DOMAIN) == "office.lan"
    assert codec.ip_list(ack.option(codec.OPT_NTP)) == [SERVER]
    assert codec.ip_list(ack.option(codec.OPT_WINS)) == ["10.135.0.3", "10.135.0.4"]
    assert codec.read_u32(ack.option(codec.OPT_LEASE_TIME)) == 600
    assert codec.read_u32(ack.option(codec.OPT_RENEWAL_T1)) == 300
    assert ack.text_option(codec.OPT_TFTP_SERVER) == "10.135.0.1"
    assert codec.ip_list(ack.option(codec.OPT_TFTP_ADDRESSES)) == [SERVER]
    assert ack.text_option(codec.OPT_PROVISIONING_URL) == "http://10.135.0.1/prov/"
    assert ack.option(codec.OPT_VENDOR_SPECIFIC) == b"\x01\x04test"
    lease = actions[0].lease
    assert (lease.ip, lease.mac, lease.state, lease.hostname, lease.vendor_class) == \
        (yiaddr, "02:00:00:00:00:01", BOUND, "w-air", "Wildix-W-AIR")
    assert lease.expires == NOW + 600


def test_vendor_option_43_only_for_a_matching_vendor_class():
    m = LeaseMachine(pool())
    offer = replies(m.handle(msg(codec.DISCOVER, vendor="yealink"), NOW))[0].message
    assert offer.option(codec.OPT_VENDOR_SPECIFIC) is None


def test_two_clients_never_get_the_same_address_and_renewal_keeps_it():
    m = LeaseMachine(pool())
    a, b = dora(m, 1), dora(m, 2)
    assert a != b
    renew = m.handle(msg(codec.REQUEST, 1, ciaddr=a), NOW + 300)
    reply = replies(renew)[0]
    assert reply.message.message_type == codec.ACK and reply.dest_ip == a
    assert not any(isinstance(x, Granted) for x in renew), "a renewal is not a new lease"
    assert [x.lease.expires for x in renew if isinstance(x, Commit)] == [NOW + 900]
    assert dora(m, 1, NOW + 400) == a


def test_request_for_a_foreign_address_is_naked():
    m = LeaseMachine(pool())
    for address in ("192.168.1.50", "10.135.0.20"):
        reply = replies(m.handle(msg(codec.REQUEST, requested=address), NOW))[0]
        assert reply.message.message_type == codec.NAK
        assert reply.dest_ip == "255.255.255.255"


def test_request_for_another_clients_address_is_naked():
    m = LeaseMachine(pool())
    a = dora(m, 1)
    reply = replies(m.handle(msg(codec.REQUEST, 2, requested=a), NOW))[0]
    assert reply.message.message_type == codec.NAK
    assert "another client" in reply.message.text_option(codec.OPT_MESSAGE)


def test_request_to_another_server_withdraws_our_offer():
    m = LeaseMachine(pool(range_end="10.135.0.100"))
    offered = replies(m.handle(msg(codec.DISCOVER), NOW))[0].message.yiaddr
    assert isinstance(m.handle(msg(codec.REQUEST, requested=offered, server="10.135.0.9"), NOW)[0], Dropped)
    assert dora(m, 2) == offered


def test_init_reboot_after_restart_confirms_a_persisted_lease():
    first = LeaseMachine(pool())
    address = dora(first, 1)
    restarted = LeaseMachine(pool(), leases=first.leases())
    reply = replies(restarted.handle(msg(codec.REQUEST, requested=address), NOW + 10))[0]
    assert reply.message.message_type == codec.ACK and reply.message.yiaddr == address
    assert dora(restarted, 2, NOW + 10) != address


def test_decline_marks_the_address_bad_for_the_hold_time():
    m = LeaseMachine(pool(decline_hold=100))
    a = dora(m, 1)
    actions = m.handle(msg(codec.DECLINE, 1, requested=a, server=SERVER), NOW)
    assert actions[0].lease.state == DECLINED
    assert dora(m, 1, NOW + 1) != a
    assert dora(m, 3, NOW + 1) != a


def test_release_frees_the_address_but_fresh_ones_are_used_first():
    m = LeaseMachine(pool(range_end="10.135.0.101"))
    a = dora(m, 1)
    actions = m.handle(msg(codec.RELEASE, 1, ciaddr=a), NOW)
    assert actions[0].lease.state == RELEASED
    b = dora(m, 2, NOW + 1)
    assert b != a
    assert dora(m, 3, NOW + 2) == a, "a released address is reclaimed when the range is used up"


def test_release_by_someone_else_is_ignored():
    m = LeaseMachine(pool())
    a = dora(m, 1)
    assert isinstance(m.handle(msg(codec.RELEASE, 2, ciaddr=a), NOW)[0], Dropped)
    assert m.leases()[0].state == BOUND


def test_max_leases_stops_offers_until_a_lease_expires():
    m = LeaseMachine(pool(max_leases=2, lease_time=60))
    dora(m, 1)
    dora(m, 2)
    dropped = m.handle(msg(codec.DISCOVER, 3), NOW)
    assert isinstance(dropped[0], Dropped) and "max leases" in dropped[0].reason
    assert dora(m, 1, NOW + 5), "a client holding a lease still renews"
    assert dora(m, 3, NOW + 61)


def test_range_exhaustion_drops_discover():
    m = LeaseMachine(pool(range_start="10.135.0.100", range_end="10.135.0.100"))
    dora(m, 1)
    assert "no free address" in m.handle(msg(codec.DISCOVER, 2), NOW)[0].reason


def test_refuse_unknown_clients_only_serves_known_macs():
    known = {"02:00:00:00:00:01"}
    m = LeaseMachine(pool(refuse_unknown=True), known=lambda m: m in known)
    dora(m, 1)
    assert "unknown client" in m.handle(msg(codec.DISCOVER, 2), NOW)[0].reason
    nak = replies(m.handle(msg(codec.REQUEST, 2, requested="10.135.0.150"), NOW))[0]
    assert nak.message.message_type == codec.NAK


def test_inform_gets_options_without_a_lease():
    m = LeaseMachine(pool())
    reply = replies(m.handle(msg(codec.INFORM, ciaddr="10.135.0.7"), NOW))[0]
    assert reply.dest_ip == "10.135.0.7"
    assert reply.message.message_type == codec.ACK
    assert reply.message.yiaddr == "0.0.0.0"
    assert reply.message.option(codec.OPT_LEASE_TIME) is None
    assert reply.message.ip_option(codec.OPT_ROUTER) == SERVER
    assert m.leases() == []


def test_probe_before_offer_skips_an_address_in_use():
    m = LeaseMachine(pool(probe=True))
    first = m.handle(msg(codec.DISCOVER), NOW)
    assert isinstance(first[0], Probe) and first[0].ip == "10.135.0.100"
    again = m.probe_result(first[0], in_use=True, now=NOW)
    assert again[0].lease.state == CONFLICT and again[0].lease.ip == "10.135.0.100"
    assert isinstance(again[1], Probe) and again[1].ip == "10.135.0.101"
    offer = replies(m.probe_result(again[1], in_use=False, now=NOW))[0]
    assert offer.message.yiaddr == "10.135.0.101"


def test_an_address_being_probed_is_not_offered_to_another_client():
    m = LeaseMachine(pool(probe=True))
    p1 = m.handle(msg(codec.DISCOVER, 1), NOW)[0]
    p2 = m.handle(msg(codec.DISCOVER, 2), NOW + 60)[0]
    assert p1.ip != p2.ip


def test_offer_hold_expires_and_the_address_goes_to_the_next_client():
    m = LeaseMachine(pool(range_end="10.135.0.100", offer_hold=10))
    replies(m.handle(msg(codec.DISCOVER, 1), NOW))
    assert isinstance(m.handle(msg(codec.DISCOVER, 2), NOW + 1)[0], Dropped)
    assert dora(m, 2, NOW + 11) == "10.135.0.100"


def test_expired_lease_of_another_client_can_be_reclaimed():
    lease = Lease(ip="10.135.0.100", mac="02:00:00:00:00:09", state=BOUND, expires=NOW - 1)
    m = LeaseMachine(pool(range_end="10.135.0.100"), leases=[lease])
    assert dora(m, 1) == "10.135.0.100"


def test_relay_agent_replies_go_to_giaddr():
    m = LeaseMachine(pool())
    discover = DhcpMessage(op=codec.BOOTREQUEST, xid=1, chaddr=mac(1), giaddr="10.135.0.254",
                           options=((codec.OPT_MESSAGE_TYPE, bytes((codec.DISCOVER,))),))
    reply = replies(m.handle(discover, NOW))[0]
    assert (reply.dest_ip, reply.dest_port) == ("10.135.0.254", 67)


def test_client_max_message_size_is_honoured():
    m = LeaseMachine(pool())
    discover = msg(codec.DISCOVER)
    big = discover.with_options([*discover.options, (codec.OPT_MAX_MESSAGE_SIZE, (1400).to_bytes(2, "big"))])
    assert replies(m.handle(big, NOW))[0].max_size == 1400
