"""The call engine's media helpers: answering with the PBX's own channel by the codec
policy (RFC 3264), re-answering a re-INVITE, bridging with transcoding, SIP INFO DTMF."""

import asyncio

import pytest

from tests.daemon_runner import free_rtp_range
from wpbxd.telephony.media import sdp
from wpbxd.telephony.media.callmedia import (
    NegotiationError,
    answer_locally,
    bridge,
    info_digit,
    reanswer,
)
from wpbxd.telephony.media.negotiation import CodecPolicy
from wpbxd.telephony.media.relay import PortAllocator, RtpRelay

HOST = "127.0.0.1"


def offer(formats="0 8 18 101", host="127.0.0.1", port=4000, direction="sendrecv"):
    return sdp.SessionDescription.parse(
        f"v=0\r\no=p 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\nm=audio {port} RTP/AVP {formats}\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
        f"a={direction}\r\n")


def test_local_answer_takes_a_port_and_follows_the_policy():
    async def scenario():
        allocator = PortAllocator(*free_rtp_range(10))
        local = answer_locally(offer(), allocator, HOST, HOST, CodecPolicy())
        assert local.answer.media[0].port == local.channel.local_port
        assert local.negotiated.codec == "PCMA"              # G.711 on the LAN, A-law first
        remote = answer_locally(offer(host="127.0.0.1"), allocator, HOST, HOST,
                                CodecPolicy(lan_networks=()))  # the same peer seen as remote
        assert remote.negotiated.codec == "G729"
        again = sdp.SessionDescription.parse(reanswer(local, offer(direction="sendonly", port=4100), HOST).to_bytes())
        assert again.media[0].port == local.channel.local_port and again.media[0].direction == "recvonly"
        assert again.origin.sess_version == local.answer.origin.sess_version
        via = answer_locally(offer(), allocator, HOST, HOST, CodecPolicy(), via=(HOST, 9999))
        assert (via.negotiated.remote_host, via.negotiated.remote_port) == (HOST, 9999)
        via.channel.close()
        local.channel.close()
        remote.channel.close()
        assert allocator.in_use() == 0
        with pytest.raises(NegotiationError):
            answer_locally(offer("9"), allocator, HOST, HOST, CodecPolicy())
        assert allocator.in_use() == 0                       # refused before taking a port

    asyncio.run(scenario())


def test_bridge_plain_when_shared_and_transcoding_when_not():
    async def scenario():
        relay = RtpRelay(PortAllocator(*free_rtp_range(10)), HOST)
        stream = relay.open_stream()
        caller = offer("18 101")
        callee = offer("8 101")
        result = bridge(stream, caller, callee)
        assert result.plan is not None and (result.plan.a_codec, result.plan.b_codec) == ("G729", "PCMA")
        assert result.answer.media[0].formats == ["18", "101"]
        assert result.a_to_b is not None and result.b_to_a is not None
        result = bridge(stream, offer("8 18 101"), callee)
        assert result.plan is None and result.answer is callee
        relay.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("ctype,body,digit", [
    ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n", "5"),
    ("application/dtmf-relay; charset=utf-8", b"signal= #\nDuration=100", "#"),
    ("application/dtmf", b"11", "#"),
    ("application/dtmf", b"*", "*"),
    ("application/dtmf-relay", b"Signal=hello", None),
    ("application/sdp", b"v=0", None),
])
def test_sip_info_dtmf_bodies(ctype, body, digit):
    assert info_digit(ctype, body) == digit
