"""SDP parsing, serialising and the relay rewrite (RFC 4566, RFC 3264)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wpbxd.telephony.media.sdp import (
    HoldState,
    MediaDescription,
    SdpError,
    SessionDescription,
    hold_state,
    rewrite_for_relay,
)

# Bodies in the shape real user agents send them (addresses from RFC 5737 ranges).
BARESIP = (
    "v=0\r\n"
    "o=- 1719583391 3012486145 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 10098 RTP/AVP 9 0 8 101\r\n"
    "b=AS:64\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=sendrecv\r\n"
    "a=label:1\r\n"
    "a=ssrc:2734152453 cname:b3a8f1f0-6a4e-4f1e-9c1f-2d4a0c1e9f11\r\n"
    "a=rtcp-rsize\r\n"
    "a=ptime:20\r\n"
)

SIPP = (  # sipp's uac scenario, LF-only as it is often pasted into scenarios
    "v=0\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\n"
    "s=-\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "m=audio 6000 RTP/AVP 0\n"
    "a=rtpmap:0 PCMU/8000\n"
)

ASTERISK = (
    "v=0\r\n"
    "o=- 1715001234 1715001235 IN IP4 198.51.100.7\r\n"
    "s=Asterisk\r\n"
    "c=IN IP4 198.51.100.7\r\n"
    "t=0 0\r\n"
    "m=audio 17544 RTP/AVP 0 8 3 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:3 GSM/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=maxptime:150\r\n"
    "a=sendrecv\r\n"
)

YEALINK = (  # media-level c=, a=rtcp with address, SRTP offer left out, G.729 annexb
    "v=0\r\n"
    "o=- 20035 20035 IN IP4 192.168.1.23\r\n"
    "s=SDP data\r\n"
    "c=IN IP4 192.168.1.23\r\n"
    "t=0 0\r\n"
    "m=audio 11802 RTP/AVP 0 8 18 9 101\r\n"
    "c=IN IP4 192.168.1.23\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:18 G729/8000\r\n"
    "a=fmtp:18 annexb=no\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=ptime:20\r\n"
    "a=rtcp:11803 IN IP4 192.168.1.23\r\n"
    "a=sendrecv\r\n"
)

POLYCOM_ICE_VIDEO = (
    "v=0\r\n"
    "o=- 1611061040 1611061040 IN IP4 10.1.2.3\r\n"
    "s=Polycom IP Phone\r\n"
    "c=IN IP4 10.1.2.3\r\n"
    "b=AS:512\r\n"
    "t=0 0\r\n"
    "a=ice-ufrag:Sq4d\r\n"
    "a=ice-pwd:6ff5fb1bd2a43d1fd6bb3b28\r\n"
    "m=audio 2222 RTP/AVP 9 0 8 101\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=rtcp:2223\r\n"
    "a=candidate:1 1 UDP 2130706431 10.1.2.3 2222 typ host\r\n"
    "a=candidate:1 2 UDP 2130706430 10.1.2.3 2223 typ host\r\n"
    "a=sendrecv\r\n"
    "m=video 0 RTP/AVP 109 34\r\n"
    "a=rtpmap:109 H264/90000\r\n"
    "a=fmtp:109 profile-level-id=42800d\r\n"
    "a=rtcp:2225\r\n"
    "a=inactive\r\n"
)


@pytest.mark.parametrize("body", [BARESIP, ASTERISK, YEALINK, POLYCOM_ICE_VIDEO])
def test_real_bodies_round_trip_byte_for_byte(body):
    """RFC 4566 §5: what we read is what we write (lines, order, attributes)."""
    assert SessionDescription.parse(body.encode()).to_bytes() == body.encode()


def test_lf_only_body_is_read_and_written_with_crlf():
    desc = SessionDescription.parse(SIPP)
    assert desc.to_bytes() == SIPP.replace("\n", "\r\n").encode()
    assert desc.origin.username == "user1"
    assert desc.origin.sess_version == 2353687637
    assert desc.connection == "127.0.0.1"
    (m,) = desc.media
    assert (m.kind, m.port, m.proto, m.formats) == ("audio", 6000, "RTP/AVP", ["0"])


def test_fields_of_a_real_offer():
    desc = SessionDescription.parse(BARESIP)
    assert desc.origin.sess_id == "1719583391"
    assert desc.origin.address == "192.0.2.10"
    m = desc.media[0]
    assert m.connection is None and desc.media_connection(m) == "192.0.2.10"
    assert m.rtpmap() == {9: ("G722", 8000, 1), 0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1),
                          101: ("telephone-event", 8000, 1)}
    assert list(m.rtpmap()) == [9, 0, 8, 101]  # in the m= line's preference order
    assert m.fmtp() == {101: "0-15"}
    assert m.direction == "sendrecv"
    assert m.attribute("ptime") == "20"
    assert m.attribute("rtcp-rsize") == ""
    assert m.attribute("nonexistent") is None
    assert ("b", "AS:64") in m.other_lines


def test_static_payload_types_without_rtpmap_come_from_rfc3551():
    body = SIPP.replace("m=audio 6000 RTP/AVP 0\n", "m=audio 6000 RTP/AVP 8 18 0 96\n")
    m = SessionDescription.parse(body).media[0]
    assert m.rtpmap() == {8: ("PCMA", 8000, 1), 18: ("G729", 8000, 1), 0: ("PCMU", 8000, 1)}


def test_unknown_line_types_are_kept_in_order():
    body = ASTERISK.replace("t=0 0\r\n", "t=0 0\r\ny=0123456789\r\nz=ignored\r\n")
    body = body.replace("a=ptime:20\r\n", "a=ptime:20\r\nq=media-level\r\n")
    desc = SessionDescription.parse(body)
    assert desc.other_lines == [("t", "0 0"), ("y", "0123456789"), ("z", "ignored")]
    assert desc.media[0].other_lines == [("q", "media-level")]
    out = desc.to_bytes().decode()
    assert out.index("y=0123456789") < out.index("z=ignored") < out.index("m=audio")
    assert "q=media-level\r\n" in out


def test_session_level_direction_applies_to_streams_without_their_own():
    body = SIPP.replace("t=0 0\n", "t=0 0\na=sendonly\n")
    desc = SessionDescription.parse(body)
    m = desc.media[0]
    assert m.explicit_direction is None
    assert m.direction == "sendrecv"
    assert desc.media_direction(m) == "sendonly"
    inactive = m.with_direction("inactive")
    assert desc.media_direction(inactive) == "inactive"


def test_with_direction_replaces_the_existing_attribute_in_place():
    m = SessionDescription.parse(ASTERISK).media[0]
    held = m.with_direction("sendonly")
    assert [n for n, v in held.attributes if v is None] == ["sendonly"]
    assert held.attributes.index(("sendonly", None)) == m.attributes.index(("sendrecv", None))
    with pytest.raises(SdpError, match="unknown direction"):
        m.with_direction("sideways")


def test_with_formats_drops_rtpmap_and_fmtp_of_removed_codecs():
    m = SessionDescription.parse(YEALINK).media[0].with_formats(["8", "101"])
    assert m.formats == ["8", "101"]
    assert m.rtpmap() == {8: ("PCMA", 8000, 1), 101: ("telephone-event", 8000, 1)}
    assert m.fmtp() == {101: "0-15"}
    assert not any(v and v.startswith("18 ") for _, v in m.attributes)


@pytest.mark.parametrize(
    ("body", "state"),
    [
        (ASTERISK, HoldState.ACTIVE),
        (ASTERISK.replace("a=sendrecv", "a=sendonly"), HoldState.HELD),
        (ASTERISK.replace("a=sendrecv", "a=inactive"), HoldState.HELD),
        (ASTERISK.replace("a=sendrecv", "a=recvonly"), HoldState.ACTIVE),
        (ASTERISK.replace("c=IN IP4 198.51.100.7", "c=IN IP4 0.0.0.0"), HoldState.HELD),  # RFC 2543
        # A disabled video stream does not make an active audio call look held.
        (POLYCOM_ICE_VIDEO, HoldState.ACTIVE),
    ],
)
def test_hold_state_rfc3264_section_8_4(body, state):
    assert hold_state(SessionDescription.parse(body)) is state


def test_rewrite_for_relay_anchors_session_and_media_connections():
    desc = SessionDescription.parse(YEALINK)
    out = rewrite_for_relay(desc, "203.0.113.5", [30000])
    assert out.connection == "203.0.113.5"
    assert out.media[0].connection == "203.0.113.5"
    assert out.media[0].port == 30000
    assert out.origin.sess_version == desc.origin.sess_version + 1
    assert out.origin.sess_id == desc.origin.sess_id
    assert out.media[0].attribute("rtcp") == "30001 IN IP4 203.0.113.5"
    # Codecs, telephone-event fmtp, ptime and direction survive untouched.
    assert out.media[0].formats == desc.media[0].formats
    assert out.media[0].rtpmap() == desc.media[0].rtpmap()
    assert out.media[0].fmtp() == {18: "annexb=no", 101: "0-15"}
    assert out.media[0].attribute("ptime") == "20"
    assert out.media[0].direction == "sendrecv"
    # The original record is not changed (records are immutable values).
    assert desc.connection == "192.168.1.23" and desc.media[0].port == 11802
    text = out.to_bytes().decode()
    assert "192.168.1.23" not in text.split("\r\n", 2)[2]  # only the o= line keeps it
    reparsed = SessionDescription.parse(out.to_bytes())
    assert reparsed == out


def test_rewrite_keeps_rejected_streams_at_port_zero_and_strips_ice():
    desc = SessionDescription.parse(POLYCOM_ICE_VIDEO)
    out = rewrite_for_relay(desc, "203.0.113.5", [30000, 30002])
    audio, video = out.media
    assert (audio.port, video.port) == (30000, 0)
    assert audio.attribute("rtcp") == "30001"
    assert video.attribute("rtcp") is None
    assert video.direction == "inactive"
    text = out.to_bytes().decode()
    assert "candidate" not in text and "ice-" not in text
    assert "10.1.2.3" not in text.split("\r\n", 2)[2]
    assert "b=AS:512" in text


def test_rewrite_gives_a_session_connection_when_only_media_had_one():
    body = ASTERISK.replace("c=IN IP4 198.51.100.7\r\n", "").replace(
        "a=ptime:20\r\n", "c=IN IP4 198.51.100.7\r\na=ptime:20\r\n")
    with pytest.raises(SdpError):  # the c= went after a= lines: still media level
        SessionDescription.parse(body.replace("c=IN IP4 198.51.100.7\r\na=ptime", "a=ptime"))
    out = rewrite_for_relay(SessionDescription.parse(body), "::1", [30010])
    assert out.connection is None
    assert out.media[0].connection == "::1"
    assert "c=IN IP6 ::1\r\n" in out.to_bytes().decode()


def test_rewrite_rejects_wrong_port_count_and_bad_address():
    desc = SessionDescription.parse(POLYCOM_ICE_VIDEO)
    with pytest.raises(SdpError, match="one port per m= line"):
        rewrite_for_relay(desc, "203.0.113.5", [30000])
    with pytest.raises(SdpError, match="not an IPv4 or IPv6"):
        rewrite_for_relay(desc, "pbx.example", [30000, 30002])
    with pytest.raises(SdpError, match="out of range"):
        rewrite_for_relay(desc, "203.0.113.5", [70000, 0])


def test_media_description_can_be_built_by_the_b2bua():
    m = MediaDescription("audio", 4000, "RTP/AVP", ["0", "101"], None,
                         [("rtpmap", "101 telephone-event/8000"), ("sendrecv", None)])
    desc = SessionDescription.parse(SIPP)
    built = SessionDescription(origin=desc.origin, connection="127.0.0.1", media=[m],
                               session_name="-", other_lines=[("t", "0 0")])
    assert SessionDescription.parse(built.to_bytes()) == built


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty"),
        ("\r\n\r\n", "empty"),
        ("o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", "must start with v="),
        ("v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", "unsupported SDP version"),
        ("v=0\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n", "no o= line"),
        ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\n", "no s= line"),
        ("v=0\r\no=- 1 IN IP4 192.0.2.1\r\ns=-\r\n", "o= needs 6 fields"),
        ("v=0\r\no=- 1 x IN IP4 192.0.2.1\r\ns=-\r\n", "sess-version 'x' is not a number"),
        ("v=0\r\nv=0\r\n", "second v="),
        ("v=0\r\no=- 1 1 IN IP4 a\r\no=- 1 1 IN IP4 a\r\ns=-\r\n", "second o="),
        ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nhello world\r\n", "line 4 is not of the form"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4\r\n", "c= needs 3 fields"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=ATM NSAP x\r\n", "not IN"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IPX x\r\n", "not IP4 or IP6"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 a\r\nm=audio\r\n", "m= needs media"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 a\r\nm=audio x RTP/AVP 0\r\n", "port 'x'"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 a\r\nm=audio 70000 RTP/AVP 0\r\n", "port '70000'"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 a\r\nm=audio 5/x RTP/AVP 0\r\n", "port count"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 a\r\nm=audio 5 RTP/AVP\r\n", "no formats"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 a\r\nm=audio 5 RTP/AVP 0 200\r\n", "payload type"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\n", "has no c= line"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 a\r\nm=audio 5 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
         "line 6: a=rtpmap needs"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 a\r\nm=audio 5 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\n",
         "payload type 'x'"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\na=\r\n", "without an attribute name"),
        ("v=0\x00\r\n", "NUL"),
    ],
)
def test_malformed_bodies_say_what_is_wrong(body, message):
    with pytest.raises(SdpError, match=message):
        SessionDescription.parse(body)


def test_sdp_error_is_a_value_error():
    assert issubclass(SdpError, ValueError)


def test_non_utf8_bytes_in_free_text_round_trip():
    body = SIPP.replace("s=-", "s=Caf\xe9").encode("latin-1")
    assert SessionDescription.parse(body).to_bytes() == body.replace(b"\n", b"\r\n")


def test_rejected_stream_may_have_no_connection():
    body = "v=0\r\no=- 1 1 IN IP4 a\r\ns= \r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"
    desc = SessionDescription.parse(body)
    assert desc.media[0].port == 0 and desc.session_name == " "
    assert desc.to_bytes() == body.encode()


_line = st.one_of(
    st.sampled_from(["v=0", "o=- 1 2 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0",
                     "m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000",
                     "a=sendonly", "a=rtcp:4001", "m=video 0 RTP/AVP 99", "c=IN IP6 ::1/127"]),
    st.text(max_size=40),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from("vosctmab"), st.text(max_size=30)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_line, max_size=14), st.sampled_from(["\r\n", "\n", "\r"]))
def test_fuzz_parse_raises_only_sdp_error_and_round_trips(lines, eol):
    body = eol.join(lines)
    try:
        desc = SessionDescription.parse(body)
    except SdpError:
        return
    again = SessionDescription.parse(desc.to_bytes())
    assert again.to_bytes() == desc.to_bytes()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_parse_of_random_bytes_raises_only_sdp_error(data):
    try:
        SessionDescription.parse(b"v=0\r\n" + data)
    except SdpError:
        pass


def test_rtcp_port_rfc3605_or_port_plus_one():
    assert SessionDescription.parse(YEALINK).media[0].rtcp_port == 11803
    assert SessionDescription.parse(ASTERISK).media[0].rtcp_port == 17545
    audio, video = SessionDescription.parse(POLYCOM_ICE_VIDEO).media
    assert (audio.rtcp_port, video.rtcp_port) == (2223, 0)
