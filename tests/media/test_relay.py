"""The RTP relay with real UDP sockets on loopback: two sockets play the two phones.

Covers symmetric latching (RFC 4961 and the NAT case), RFC 5761 RTP/RTCP
demultiplexing for the SSRC, port allocation and release, and bad datagrams.
"""

import asyncio
import socket
import struct

import pytest

from tests.daemon_runner import free_rtp_range
from wpbxd.telephony.media import relay as relay_module
from wpbxd.telephony.media.relay import NoPortsAvailable, PortAllocator, RtpRelay

HOST = "127.0.0.1"
RECV_TIMEOUT = 5.0  # seconds; only bounds a broken test, never asserts speed


def rtp(seq: int, ssrc: int = 0x11223344, pt: int = 0, payload: bytes = b"\xff" * 160) -> bytes:
    """An RTP packet (RFC 3550 §5.1): V=2, PT, sequence, timestamp, SSRC, payload."""
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, seq * 160, ssrc) + payload


def rtcp_rr(ssrc: int) -> bytes:
    """An empty RTCP receiver report (RFC 3550 §6.4.2)."""
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


def phone() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


async def recv(sock: socket.socket) -> tuple[bytes, tuple]:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recvfrom(sock, 65536), RECV_TIMEOUT)


async def until(condition, rounds: int = 10_000) -> None:
    """Let the loop run until ``condition()`` holds (loopback delivery is synchronous,
    so a few rounds suffice); fails the test if it never does."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the relay never got there")


def port_of(sock: socket.socket) -> int:
    return sock.getsockname()[1]


@pytest.fixture
def port_range():
    return free_rtp_range(40)


def run(coro):
    return asyncio.run(coro)


def test_packets_flow_both_ways_intact_and_in_order(port_range):
    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob = phone(), phone()
        stream.set_remote("a", HOST, port_of(alice))
        stream.set_remote("b", HOST, port_of(bob))
        sent_ab = [rtp(i, ssrc=1, payload=bytes([i]) * 160) for i in range(60)]
        sent_ba = [rtp(i, ssrc=2, pt=8, payload=bytes([255 - i]) * 160) for i in range(60)]
        for pa, pb in zip(sent_ab, sent_ba, strict=True):
            alice.sendto(pa, (HOST, stream.a.local_port))
            bob.sendto(pb, (HOST, stream.b.local_port))
        got_b = [await recv(bob) for _ in sent_ab]
        got_a = [await recv(alice) for _ in sent_ba]
        assert [d for d, _ in got_b] == sent_ab
        assert [d for d, _ in got_a] == sent_ba
        # Each phone hears the PBX from the port its own SDP answer named.
        assert {src for _, src in got_b} == {(HOST, stream.b.local_port)}
        assert {src for _, src in got_a} == {(HOST, stream.a.local_port)}
        stats = stream.stats()
        assert stats["a_to_b"]["packets"] == 60 and stats["b_to_a"]["packets"] == 60
        assert stats["a_to_b"]["bytes"] == 60 * 172
        assert stats["a"]["latched"] == f"{HOST}:{port_of(alice)}"
        relay.close()
        alice.close()
        bob.close()

    run(scenario())


def test_rtcp_is_relayed_on_the_port_plus_one_sockets(port_range):
    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice_rtcp, bob_rtcp, bob_rtp = phone(), phone(), phone()
        stream.set_remote("a", HOST, 9, rtcp_port=port_of(alice_rtcp))
        stream.set_remote("b", HOST, port_of(bob_rtp), rtcp_port=port_of(bob_rtcp))
        alice_rtcp.sendto(rtcp_rr(7), (HOST, stream.a.local_rtcp_port))
        data, src = await recv(bob_rtcp)
        assert data == rtcp_rr(7) and src == (HOST, stream.b.local_rtcp_port)
        bob_rtcp.sendto(rtcp_rr(8), (HOST, stream.b.local_rtcp_port))
        assert (await recv(alice_rtcp))[0] == rtcp_rr(8)
        assert stream.stats()["a_to_b"]["rtcp"]["packets"] == 1
        relay.close()
        for s in (alice_rtcp, bob_rtcp, bob_rtp):
            s.close()

    run(scenario())


def test_latches_to_the_real_source_behind_nat(port_range):
    """The SDP names a port nobody listens on (the phone's private side of a NAT);
    the phone's packets come from another port and the answer must go there."""
    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob, unused = phone(), phone(), phone()
        sdp_port = port_of(unused)
        unused.close()
        stream.set_remote("a", HOST, sdp_port)
        stream.set_remote("b", HOST, port_of(bob))
        assert stream.a.remote == (HOST, sdp_port)
        alice.sendto(rtp(1, ssrc=0xA), (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == rtp(1, ssrc=0xA)
        assert stream.a.latched == (HOST, port_of(alice))
        bob.sendto(rtp(1, ssrc=0xB), (HOST, stream.b.local_port))
        assert (await recv(alice))[0] == rtp(1, ssrc=0xB)
        assert stream.stats()["a"]["latched"] == f"{HOST}:{port_of(alice)}"
        relay.close()
        alice.close()
        bob.close()

    run(scenario())


def test_after_the_window_only_the_same_ssrc_can_move_the_latch(port_range, monkeypatch):
    """A stranger's packets are dropped; the phone's own SSRC from a new port
    (the NAT rebound its mapping) moves the latch."""
    monkeypatch.setattr(relay_module, "LATCH_WINDOW", -1.0)  # window already over

    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob, stranger, rebound = phone(), phone(), phone(), phone()
        stream.set_remote("a", HOST, 9)  # a private address we never hear from
        stream.set_remote("b", HOST, port_of(bob))
        alice.sendto(rtp(1, ssrc=0xA), (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == rtp(1, ssrc=0xA)
        stranger.sendto(rtp(99, ssrc=0xBAD), (HOST, stream.a.local_port))
        alice.sendto(rtp(2, ssrc=0xA), (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == rtp(2, ssrc=0xA)  # the stranger's packet never came
        assert stream.stats()["a_to_b"]["dropped_foreign"] == 1
        bob.sendto(rtp(1, ssrc=0xB), (HOST, stream.b.local_port))
        assert (await recv(alice))[0] == rtp(1, ssrc=0xB)  # still latched to alice
        rebound.sendto(rtp(3, ssrc=0xA), (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == rtp(3, ssrc=0xA)
        assert stream.a.latched == (HOST, port_of(rebound))
        bob.sendto(rtp(2, ssrc=0xB), (HOST, stream.b.local_port))
        assert (await recv(rebound))[0] == rtp(2, ssrc=0xB)
        assert stream.stats()["a"]["relatched"] == 1
        relay.close()
        for s in (alice, bob, stranger, rebound):
            s.close()

    run(scenario())


def test_within_the_window_after_set_remote_a_new_source_may_latch(port_range):
    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob, new_phone = phone(), phone(), phone()
        stream.set_remote("a", HOST, port_of(alice))
        stream.set_remote("b", HOST, port_of(bob))
        alice.sendto(rtp(1, ssrc=0xA), (HOST, stream.a.local_port))
        await recv(bob)
        # A re-INVITE moves side a to another phone (new SSRC, new address).
        stream.set_remote("a", HOST, port_of(new_phone))
        bob.sendto(rtp(1, ssrc=0xB), (HOST, stream.b.local_port))
        assert (await recv(new_phone))[0] == rtp(1, ssrc=0xB)
        new_phone.sendto(rtp(5, ssrc=0xC), (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == rtp(5, ssrc=0xC)
        relay.close()
        for s in (alice, bob, new_phone):
            s.close()

    run(scenario())


def test_same_address_again_keeps_the_latch(port_range, monkeypatch):
    """A session refresh re-sends the same SDP: the latched NAT address must stay."""
    monkeypatch.setattr(relay_module, "LATCH_WINDOW", -1.0)  # window already over

    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob = phone(), phone()
        stream.set_remote("a", HOST, 9)
        stream.set_remote("b", HOST, port_of(bob))
        alice.sendto(rtp(1, ssrc=0xA), (HOST, stream.a.local_port))
        await recv(bob)
        stream.set_remote("a", HOST, 9)
        assert stream.a.latched == (HOST, port_of(alice))
        bob.sendto(rtp(1, ssrc=0xB), (HOST, stream.b.local_port))
        assert (await recv(alice))[0] == rtp(1, ssrc=0xB)
        relay.close()
        alice.close()
        bob.close()

    run(scenario())


def test_packets_before_the_other_side_is_known_are_dropped_and_counted(port_range):
    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob = phone(), phone()
        stream.set_remote("a", HOST, port_of(alice))
        for i in range(3):
            alice.sendto(rtp(i), (HOST, stream.a.local_port))
        await until(lambda: stream.stats()["a_to_b"]["dropped_no_remote"] == 3)
        # Side b learns its address from its own first packet (no SDP yet: early media).
        bob.sendto(rtp(1, ssrc=0xB), (HOST, stream.b.local_port))
        assert (await recv(alice))[0] == rtp(1, ssrc=0xB)
        alice.sendto(rtp(3), (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == rtp(3)
        assert stream.stats()["a_to_b"]["dropped_no_remote"] == 3
        assert stream.stats()["a_to_b"]["packets"] == 1
        relay.close()
        alice.close()
        bob.close()

    run(scenario())


def test_hold_with_zero_address_drops_towards_that_side_only(port_range):
    """RFC 2543 hold (c=0.0.0.0): nothing is sent to that side; the other way flows."""
    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob = phone(), phone()
        stream.set_remote("a", HOST, port_of(alice))
        stream.set_remote("b", HOST, port_of(bob))
        stream.set_remote("a", "0.0.0.0", port_of(alice))
        bob.sendto(rtp(1, ssrc=0xB), (HOST, stream.b.local_port))
        await until(lambda: stream.stats()["b_to_a"]["dropped_no_remote"] == 1)
        alice.sendto(rtp(1, ssrc=0xA), (HOST, stream.a.local_port))  # music on hold, say
        assert (await recv(bob))[0] == rtp(1, ssrc=0xA)
        # Alice sent, so side a is latched again and bob's next packet reaches her.
        bob.sendto(rtp(2, ssrc=0xB), (HOST, stream.b.local_port))
        assert (await recv(alice))[0] == rtp(2, ssrc=0xB)
        assert stream.stats()["b_to_a"]["dropped_no_remote"] == 1
        relay.close()
        alice.close()
        bob.close()

    run(scenario())


def test_garbage_and_oversized_datagrams_do_not_break_the_stream(port_range):
    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob, junk = phone(), phone(), phone()
        stream.set_remote("b", HOST, port_of(bob))
        # Before side a latched: garbage from anywhere must not latch it.
        for bad in (b"", b"x", b"\x00" * 40, b"\xff" * 7):
            junk.sendto(bad, (HOST, stream.a.local_port))
        junk.sendto(b"\x80" * 9000, (HOST, stream.a.local_port))  # larger than any RTP packet
        alice.sendto(rtp(1, ssrc=0xA), (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == rtp(1, ssrc=0xA)
        assert stream.a.latched == (HOST, port_of(alice))
        # From the latched phone even odd datagrams pass through untouched (opaque payloads).
        alice.sendto(b"\x80\x00", (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == b"\x80\x00"
        a_to_b = stream.stats()["a_to_b"]
        assert a_to_b["dropped_foreign"] == 4
        assert a_to_b["dropped_oversize"] == 1
        relay.close()
        for s in (alice, bob, junk):
            s.close()

    run(scenario())


def test_ports_are_released_on_close_and_reusable(port_range):
    low = port_range[0]

    async def scenario():
        allocator = PortAllocator(low, low + 7)  # 4 pairs = 2 streams
        relay = RtpRelay(allocator, HOST)
        first, second = relay.open_stream(), relay.open_stream()
        assert allocator.available() == 0
        with pytest.raises(NoPortsAvailable):
            relay.open_stream()
        assert allocator.available() == 0 and relay.streams() == 2
        ports = {first.a.local_port, first.b.local_port}
        first.close()
        first.close()  # idempotent
        assert allocator.available() == 2
        third = relay.open_stream()
        assert {third.a.local_port, third.b.local_port} == ports
        alice, bob = phone(), phone()
        third.set_remote("a", HOST, port_of(alice))
        third.set_remote("b", HOST, port_of(bob))
        alice.sendto(rtp(1), (HOST, third.a.local_port))
        assert (await recv(bob))[0] == rtp(1)
        relay.close()
        assert allocator.available() == 4 and relay.streams() == 0
        assert second.closed
        # Closed means closed: the ports can be bound by anyone again.
        for port in range(low, low + 8):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((HOST, port))
        alice.close()
        bob.close()

    run(scenario())


def test_a_port_held_by_another_program_is_skipped_without_leaking(port_range):
    low = port_range[0]

    async def scenario():
        allocator = PortAllocator(low, low + 7)
        relay = RtpRelay(allocator, HOST)
        squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        squatter.bind((HOST, low + 1))  # the RTCP half of the first pair
        stream = relay.open_stream()
        assert low not in (stream.a.local_port, stream.b.local_port)
        assert allocator.skipped == 1
        assert allocator.available() == 2  # the skipped pair is still offered later
        squatter.close()
        stream.close()
        assert allocator.available() == 4
        streams = [relay.open_stream(), relay.open_stream()]
        assert sorted(p for s in streams for p in (s.a.local_port, s.b.local_port)) == \
            [low, low + 2, low + 4, low + 6]
        relay.close()

    run(scenario())


def test_exhaustion_when_every_remaining_port_is_held_elsewhere(port_range):
    low = port_range[0]

    async def scenario():
        allocator = PortAllocator(low, low + 3)
        relay = RtpRelay(allocator, HOST)
        squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        squatter.bind((HOST, low + 2))
        with pytest.raises(NoPortsAvailable, match="held by other programs"):
            relay.open_stream()
        assert allocator.available() == 2 and allocator.in_use() == 0  # side a given back
        squatter.close()
        relay.close()

    run(scenario())


def test_set_remote_rejects_what_it_cannot_use(port_range):
    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        with pytest.raises(ValueError, match="not an IP address"):
            stream.set_remote("a", "phone.example", 4000)
        with pytest.raises(ValueError, match="side must be"):
            stream.set_remote("c", HOST, 4000)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="address family"):
            stream.set_remote("a", "::1", 4000)
        with pytest.raises(ValueError, match="out of range"):
            stream.set_remote("a", HOST, 70000)
        with pytest.raises(ValueError, match="out of range"):
            stream.set_remote("a", HOST, 4000, rtcp_port=-1)
        stream.set_remote("b", HOST, 0, 0)  # a rejected stream (m= port 0): no address
        assert stream.b.remote is None
        relay.close()

    run(scenario())


def test_ipv6_relay_on_loopback(port_range):
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")

    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), "::1")
        stream = relay.open_stream()
        alice = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        bob = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        for s in (alice, bob):
            s.bind(("::1", 0))
            s.setblocking(False)
        stream.set_remote("a", "::1", alice.getsockname()[1])
        stream.set_remote("b", "::1", bob.getsockname()[1])
        alice.sendto(rtp(1), ("::1", stream.a.local_port))
        assert (await recv(bob))[0] == rtp(1)
        bob.sendto(rtp(2), ("::1", stream.b.local_port))
        assert (await recv(alice))[0] == rtp(2)
        assert stream.stats()["a"]["latched"] == f"[::1]:{alice.getsockname()[1]}"
        relay.close()
        alice.close()
        bob.close()

    run(scenario())


def test_port_allocator_hands_out_even_ports_round_robin():
    allocator = PortAllocator(10001, 10008)
    assert allocator.available() == 3  # 10002, 10004, 10006 (10008 has no 10009)
    ports = [allocator.allocate() for _ in range(3)]
    assert ports == [10002, 10004, 10006]
    with pytest.raises(NoPortsAvailable):
        allocator.allocate()
    allocator.release(10004)
    allocator.release(10002)
    assert [allocator.allocate(), allocator.allocate()] == [10004, 10002]


def test_port_allocator_rejects_bad_ranges_and_double_release():
    with pytest.raises(ValueError):
        PortAllocator(20000, 10000)
    with pytest.raises(ValueError):
        PortAllocator(0, 100)
    with pytest.raises(ValueError, match="no even port"):
        PortAllocator(10001, 10002)
    allocator = PortAllocator(10000, 10003)
    port = allocator.allocate()
    allocator.release(port)
    with pytest.raises(ValueError, match="not allocated"):
        allocator.release(port)
    with pytest.raises(ValueError, match="not allocated"):
        allocator.release(10002)


def test_the_signalled_address_wins_the_latch_back(port_range, monkeypatch):
    """Packets from the very address the SDP gave move the latch there even after
    the window: a spoofer who latched first cannot keep the stream."""
    monkeypatch.setattr(relay_module, "LATCH_WINDOW", -1.0)  # window already over

    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob, spoofer = phone(), phone(), phone()
        stream.set_remote("a", HOST, port_of(alice))
        stream.set_remote("b", HOST, port_of(bob))
        spoofer.sendto(rtp(1, ssrc=0xE), (HOST, stream.a.local_port))
        await recv(bob)
        assert stream.a.latched == (HOST, port_of(spoofer))
        alice.sendto(rtp(1, ssrc=0xA), (HOST, stream.a.local_port))
        assert (await recv(bob))[0] == rtp(1, ssrc=0xA)
        assert stream.a.latched == (HOST, port_of(alice))
        relay.close()
        for s in (alice, bob, spoofer):
            s.close()

    run(scenario())


def test_offer_answer_through_the_relay_end_to_end(port_range):
    """What the B2BUA does: parse each phone's SDP, anchor it on the relay, tell the
    relay where each phone listens, and the audio of both phones meets."""
    from wpbxd.telephony.media.sdp import SessionDescription, rewrite_for_relay

    def sdp(port: int) -> bytes:
        return (f"v=0\r\no=- 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
                f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
                f"a=fmtp:101 0-16\r\na=sendrecv\r\n").encode()

    async def scenario():
        relay = RtpRelay(PortAllocator(*port_range), HOST)
        stream = relay.open_stream()
        alice, bob = phone(), phone()
        offer = SessionDescription.parse(sdp(port_of(alice)))
        answer = SessionDescription.parse(sdp(port_of(bob)))
        to_bob = rewrite_for_relay(offer, HOST, [stream.b.local_port])
        to_alice = rewrite_for_relay(answer, HOST, [stream.a.local_port])
        for side, desc in (("a", offer), ("b", answer)):
            m = desc.media[0]
            stream.set_remote(side, desc.media_connection(m), m.port, m.rtcp_port)
        # Each phone sends where the SDP it received says.
        alice_sends_to = (to_alice.connection, to_alice.media[0].port)
        bob_sends_to = (to_bob.connection, to_bob.media[0].port)
        dtmf = struct.pack("!BBHII", 0x80, 101, 7, 1234, 0xA) + b"\x05\x0a\x00\xa0"  # RFC 4733
        alice.sendto(rtp(1, ssrc=0xA), alice_sends_to)
        alice.sendto(dtmf, alice_sends_to)
        bob.sendto(rtp(1, ssrc=0xB, pt=0), bob_sends_to)
        assert (await recv(bob))[0] == rtp(1, ssrc=0xA)
        assert (await recv(bob))[0] == dtmf
        assert (await recv(alice))[0] == rtp(1, ssrc=0xB)
        relay.close()
        alice.close()
        bob.close()

    run(scenario())
