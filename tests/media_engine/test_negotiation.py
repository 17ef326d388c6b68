"""Codec choice (RFC 3264 §6) with the seed's SIP-RTP policy, and transcoding plans."""

import pytest

from wpbxd.telephony.media import sdp
from wpbxd.telephony.media.negotiation import (
    CodecPolicy,
    NegotiationError,
    answer_for_caller,
    answer_for_channel,
    offer_for_callee,
    parse_networks,
    plan_bridge,
)


def offer(formats: str, rtpmaps: list[str] = (), host: str = "192.168.1.20", direction: str = "") -> sdp.SessionDescription:
    lines = ["v=0", f"o=phone 1 1 IN IP4 {host}", "s=-", f"c=IN IP4 {host}", "t=0 0",
             f"m=audio 4000 RTP/AVP {formats}"] + [f"a=rtpmap:{r}" for r in rtpmaps]
    if direction:
        lines.append(f"a={direction}")
    return sdp.SessionDescription.parse("\r\n".join(lines) + "\r\n")


ALL = offer("18 8 0 101", ["18 G729/8000", "8 PCMA/8000", "0 PCMU/8000", "101 telephone-event/8000"])


def test_lan_prefers_g711_and_remote_prefers_g729():
    policy = CodecPolicy()
    assert policy.preference("192.168.1.20")[:2] == ("PCMA", "PCMU")
    assert policy.preference("10.1.2.3")[0] == "PCMA"
    assert policy.preference("203.0.113.9")[0] == "G729"
    assert policy.preference("not an address")[0] == "G729"


def test_wideband_off_on_lan_except_forced_networks():
    """Seed SIP-RTP: the option can be off for the LAN and forced for single networks (a VPN)."""
    policy = CodecPolicy(wideband_on_lan=False, wideband_networks=parse_networks("10.8.0.0/16"))
    assert policy.preference("192.168.1.20")[0] == "G729"
    assert policy.preference("10.8.3.4")[0] == "PCMA"
    assert CodecPolicy.from_settings({"media.wideband_on_lan": 0, "media.wideband_networks": "10.8.0.0/16",
                                      "media.lan_networks": "192.168.0.0/16"}) == policy.__class__(
        parse_networks("192.168.0.0/16"), parse_networks("10.8.0.0/16"), False)
    with pytest.raises(ValueError, match="not a network"):
        parse_networks("10.0.0.0/8, bogus")


def test_answer_uses_policy_order_and_keeps_telephone_event():
    answer, neg = answer_for_channel(ALL, "10.0.0.1", 20000, CodecPolicy().preference("192.168.1.20"))
    assert (neg.codec, neg.payload_type, neg.event_pt) == ("PCMA", 8, 101)
    assert (neg.remote_host, neg.remote_port) == ("192.168.1.20", 4000)
    m = answer.media[0]
    assert m.port == 20000 and m.formats == ["8", "101"] and m.direction == "sendrecv"
    assert answer.connection == "10.0.0.1"
    assert m.fmtp() == {101: "0-16"}
    remote = answer_for_channel(ALL, "10.0.0.1", 20000, CodecPolicy().preference("198.51.100.1"))[1]
    assert remote.codec == "G729" and remote.payload_type == 18


def test_answer_mirrors_direction_and_rejects_other_streams():
    desc = sdp.SessionDescription.parse(
        "v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")
    answer, neg = answer_for_channel(desc, "10.0.0.1", 20000, ("PCMU",))
    assert answer.media[0].direction == "recvonly" and neg.direction == "sendonly"
    assert answer.media[1].port == 0 and len(answer.media) == 2
    # the answer is a valid body
    assert sdp.SessionDescription.parse(answer.to_bytes()).media[0].formats == ["0"]


def test_no_common_codec_is_an_error_naming_the_codecs():
    with pytest.raises(NegotiationError, match="G722"):
        answer_for_channel(offer("9", ["9 G722/8000"]), "10.0.0.1", 20000, ("PCMA", "PCMU", "G729"))


def test_callee_offer_gains_transcodable_codecs_after_the_callers():
    g729_only = offer("18 101", ["18 G729/8000", "101 telephone-event/8000"], host="203.0.113.5")
    out = offer_for_callee(g729_only).media[0]
    assert out.formats == ["18", "8", "0", "101"]
    assert out.rtpmap()[8] == ("PCMA", 8000, 1)
    assert offer_for_callee(ALL).media[0].formats == ALL.media[0].formats   # nothing to add


def test_bridge_plan_when_the_callee_picks_a_codec_the_caller_lacks():
    g729_only = offer("18 101", ["18 G729/8000", "101 telephone-event/8000"])
    callee_answer = offer("0 101", ["0 PCMU/8000", "101 telephone-event/8000"], host="192.168.1.30")
    plan = plan_bridge(g729_only, callee_answer)
    assert plan is not None
    assert (plan.a_codec, plan.a_pt, plan.b_codec, plan.b_pt) == ("G729", 18, "PCMU", 0)
    assert plan.a_event_pt == 101 and plan.b_event_pt == 101
    rewritten = answer_for_caller(callee_answer, plan).media[0]
    assert rewritten.formats == ["18", "101"]
    assert rewritten.rtpmap()[18][0] == "G729"
    assert plan_bridge(ALL, callee_answer) is None        # shared codec: plain relay


def test_offer_reordered_by_policy_and_narrowed_to_what_was_negotiated():
    from wpbxd.telephony.media.negotiation import Negotiated, narrow_offer, order_offer
    ordered = order_offer(ALL, CodecPolicy().preference("192.168.1.9")).media[0]
    assert ordered.formats == ["8", "0", "18", "101"]
    assert order_offer(ALL, ("G729", "PCMU", "PCMA")).media[0].formats == ["18", "0", "8", "101"]
    narrowed = narrow_offer(ALL, Negotiated("PCMA", 8, 101, "192.168.1.20", 4000, "sendrecv")).media[0]
    assert narrowed.formats == ["8", "101"] and set(narrowed.rtpmap()) == {8, 101}


def test_first_voice_codec_of_an_answer():
    from wpbxd.telephony.media.negotiation import first_voice
    assert first_voice(ALL) == ("G729", 18, 101)
    assert first_voice(offer("9", ["9 G722/8000"])) is None
