"""RFC 3263 §4 target resolution against a real DNS server (dnsmasq on loopback)."""

import asyncio

import pytest

from wpbxd.telephony.trunks.resolver import DnsLookup, ResolveError, resolve


def test_srv_records_give_ordered_targets_with_failover(dns_server):
    port = dns_server([
        "srv-host=_sip._udp.provider.test,sip1.provider.test,5070,10,100",
        "srv-host=_sip._udp.provider.test,sip2.provider.test,5080,20,100",
        "host-record=sip1.provider.test,127.0.0.11",
        "host-record=sip2.provider.test,127.0.0.12",
        "host-record=plain.test,127.0.0.13",
    ])
    lookup = DnsLookup([("127.0.0.1", port)])
    # SRV: priority 10 first, then the fallback target at priority 20
    assert asyncio.run(resolve("provider.test", None, lookup)) == [
        ("udp", "127.0.0.11", 5070), ("udp", "127.0.0.12", 5080)]
    # an explicit port skips SRV (§4.2): the name's A record at that port
    assert asyncio.run(resolve("sip2.provider.test", 6000, lookup)) == [("udp", "127.0.0.12", 6000)]
    # no SRV record: A record at 5060
    assert asyncio.run(resolve("plain.test", None, lookup)) == [("udp", "127.0.0.13", 5060)]
    # an IP address is used as it is
    assert asyncio.run(resolve("192.0.2.7", None, lookup)) == [("udp", "192.0.2.7", 5060)]


def test_unknown_name_is_a_clear_error(dns_server):
    port = dns_server(["host-record=known.test,127.0.0.14"])
    with pytest.raises(ResolveError, match="nothing.test has no address"):
        asyncio.run(resolve("nothing.test", None, DnsLookup([("127.0.0.1", port)])))
