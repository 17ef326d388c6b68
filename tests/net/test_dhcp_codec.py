"""DHCP codec: RFC 2131 header, RFC 2132 options, RFC 3396 long options, strict bounds."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wpbxd.net.dhcp import codec
from wpbxd.net.dhcp.codec import DhcpMessage, MalformedPacket


def _discover(**kw) -> DhcpMessage:
    base = dict(op=codec.BOOTREQUEST, xid=0x1234ABCD, chaddr=bytes.fromhex("020000000001"),
                flags=codec.FLAG_BROADCAST,
                options=((codec.OPT_MESSAGE_TYPE, bytes((codec.DISCOVER,))),
                         (codec.OPT_HOSTNAME, b"phone-1"),
                         (codec.OPT_PARAMETER_LIST, bytes((1, 3, 6, 66)))))
    base.update(kw)
    return DhcpMessage(**base)


def test_round_trip_keeps_header_and_options():
    msg = _discover(ciaddr="10.0.0.5", giaddr="10.0.0.1", secs=3)
    wire = codec.serialize(msg)
    assert len(wire) >= codec.MIN_BOOTP_LEN
    back = codec.parse(wire)
    assert back == msg
    assert back.message_type == codec.DISCOVER
    assert back.mac == "02:00:00:00:00:01"
    assert back.broadcast
    assert back.text_option(codec.OPT_HOSTNAME) == "phone-1"


def test_long_option_is_split_and_concatenated_rfc3396():
    url = b"http://10.135.0.1/prov/" + b"x" * 600
    msg = _discover(options=((codec.OPT_MESSAGE_TYPE, b"\x02"), (codec.OPT_PROVISIONING_URL, url)))
    wire = codec.serialize(msg, max_size=1500)
    assert wire.count(bytes((codec.OPT_PROVISIONING_URL, 255))) == 2
    assert codec.parse(wire).option(codec.OPT_PROVISIONING_URL) == url


def test_repeated_option_instances_are_concatenated():
    msg = _discover()
    wire = bytearray(codec.serialize(msg))
    end = codec.OPTIONS_OFFSET + 3 + 9 + 6  # type, hostname, parameter list
    wire[end:end + 1] = bytes((codec.OPT_HOSTNAME, 2)) + b"-b" + bytes((codec.OPT_END,))
    assert codec.parse(bytes(wire)).option(codec.OPT_HOSTNAME) == b"phone-1-b"


def test_options_that_do_not_fit_overflow_into_file_and_sname_rfc2132_9_3():
    options = [(codec.OPT_MESSAGE_TYPE, b"\x02")] + [(200 + i, bytes(60)) for i in range(6)]
    msg = _discover(options=tuple(options))
    wire = codec.serialize(msg)                       # 576-byte limit
    assert len(wire) <= codec.DEFAULT_MAX_MESSAGE - codec.IP_UDP_OVERHEAD
    back = codec.parse(wire)
    assert dict(back.options) == dict(options)
    assert back.file == b"" and back.sname == b""


def test_options_too_big_for_any_area_are_refused_at_serialize():
    msg = _discover(options=((codec.OPT_MESSAGE_TYPE, b"\x02"), (224, bytes(2000))))
    with pytest.raises(ValueError):
        codec.serialize(msg)


@pytest.mark.parametrize("mutate, reason", [
    (lambda w: w[:100], "truncated"),
    (lambda w: w[:236] + b"\x00\x00\x00\x00" + w[240:], "magic cookie"),
    (lambda w: w[:240] + bytes((12, 200)) + b"abc", "claims 200 bytes"),
    (lambda w: w[:240] + bytes((12,)), "no length byte"),
    (lambda w: w[:240] + bytes((53, 1, 1)), "no END"),
    (lambda w: w[:240] + bytes((53, 1, 99, 255)), "message type"),
    (lambda w: w[:240] + bytes((52, 1, 7, 255)), "overload"),
    (lambda w: w[:2] + bytes((40,)) + w[3:], "hardware address length"),
    (lambda w: bytes((9,)) + w[1:], "bad op"),
])
def test_malformed_packets_raise_a_specific_error(mutate, reason):
    wire = codec.serialize(_discover())
    with pytest.raises(MalformedPacket) as err:
        codec.parse(mutate(wire))
    assert reason in err.value.reason


def test_overload_with_unterminated_file_area_is_malformed():
    wire = bytearray(codec.serialize(_discover()))
    wire[240:243] = bytes((52, 1, 1))
    wire[243] = 255
    file_at = 108
    wire[file_at:file_at + 128] = bytes((12, 3)) + b"abc" + bytes(123)  # pads only, no END
    with pytest.raises(MalformedPacket, match="no END option in file"):
        codec.parse(bytes(wire))


def test_address_list_helpers_check_lengths():
    assert codec.ip_list(codec.ip_bytes("10.0.0.1", "10.0.0.2")) == ["10.0.0.1", "10.0.0.2"]
    with pytest.raises(MalformedPacket):
        codec.ip_list(b"\x01\x02\x03")
    with pytest.raises(MalformedPacket):
        codec.read_u32(b"\x01")
    assert codec.read_u32(codec.u32(3600)) == 3600


@settings(max_examples=400, deadline=None)
@given(st.binary(min_size=0, max_size=700))
def test_fuzz_random_bytes_only_ever_raise_malformed(data):
    try:
        codec.parse(data)
    except MalformedPacket:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=400), st.integers(0, 0xFFFFFFFF))
def test_fuzz_random_options_after_a_valid_header_only_ever_raise_malformed(tail, xid):
    header = struct.pack(codec.HEADER_FORMAT, 1, 1, 6, 0, xid, 0, 0, bytes(4), bytes(4),
                         bytes(4), bytes(4), bytes(16), bytes(64), bytes(128))
    try:
        msg = codec.parse(header + codec.MAGIC_COOKIE + tail)
    except MalformedPacket:
        return
    assert codec.parse(codec.serialize(msg, max_size=65535)).options == msg.options


option_values = st.lists(
    st.tuples(st.integers(1, 254).filter(lambda c: c not in (codec.OPT_OVERLOAD, codec.OPT_MESSAGE_TYPE)),
              st.binary(min_size=0, max_size=300)),
    max_size=6, unique_by=lambda t: t[0])


@settings(max_examples=300, deadline=None)
@given(option_values, st.integers(0, 0xFFFFFFFF), st.binary(min_size=6, max_size=6))
def test_fuzz_round_trip_of_generated_messages(options, xid, mac):
    msg = DhcpMessage(op=codec.BOOTREPLY, xid=xid, chaddr=mac, options=tuple(options))
    try:
        wire = codec.serialize(msg, max_size=1500)
    except ValueError:
        return
    assert codec.parse(wire) == msg
