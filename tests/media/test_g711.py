"""G.711 A-law / µ-law against the ITU-T G.711 rules, and bit-exact against the
reference codec of CPython's ``audioop`` (stdlib up to 3.12, PyPI ``audioop-lts`` after)."""

import struct
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wpbxd.telephony.media import g711

ALL_SAMPLES = struct.pack("<65536h", *range(-32768, 32768))
ALL_CODES = bytes(range(256))


def reference():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            pytest.skip("no audioop reference (stdlib before 3.13, else pip install audioop-lts)")
    return audioop


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def samples_of(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data))


# --- G.711 rules --------------------------------------------------------------------------


def test_silence_codes_g711_tables_1_and_2():
    """Zero is 0xD5 in A-law (even bits inverted, positive sign) and 0xFF in µ-law."""
    assert g711.alaw_encode(pcm(0)) == b"\xd5"
    assert g711.ulaw_encode(pcm(0)) == b"\xff"
    assert samples_of(g711.ulaw_decode(b"\xff\x7f")) == [0, 0]  # µ-law has two zeros
    assert samples_of(g711.alaw_decode(b"\xd5\x55")) == [8, -8]  # A-law has no zero level


def test_full_scale_codes():
    assert g711.alaw_encode(pcm(32767, -32768)) == b"\xaa\x2a"
    assert g711.ulaw_encode(pcm(32767, -32768)) == b"\x80\x00"
    assert samples_of(g711.alaw_decode(b"\xaa\x2a")) == [32256, -32256]
    assert samples_of(g711.ulaw_decode(b"\x80\x00")) == [32124, -32124]


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_decoding_is_odd_symmetric(law):
    decode = getattr(g711, f"{law}_to_linear")
    for code in range(128):
        assert decode(code | 0x80) == -decode(code)


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_encoding_is_monotonic_and_within_half_a_step(law):
    """Each code's interval is a contiguous run of inputs whose midpoint it decodes to."""
    encode = getattr(g711, f"{law}_from_linear")
    decode = getattr(g711, f"{law}_to_linear")
    previous = decode(encode(-32768))
    runs: dict[int, list[int]] = {}
    for x in range(-32768, 32768):
        value = decode(encode(x))
        assert value >= previous  # quantisation never goes backwards
        previous = value
        runs.setdefault(encode(x), []).append(x)
    # Inside the law's range every input is decoded within half its interval.
    limit = 32256 + 512 if law == "alaw" else 32124 + 512
    for code, xs in runs.items():
        if abs(decode(code)) >= limit - 1024:
            continue  # the clipped top of segment 7
        width = xs[-1] - xs[0] + 1
        assert all(abs(x - decode(code)) <= width / 2 + 4 for x in xs), hex(code)


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_every_code_survives_decode_then_encode(law):
    encode = getattr(g711, f"{law}_from_linear")
    decode = getattr(g711, f"{law}_to_linear")
    for code in range(256):
        expected = 0xFF if (law == "ulaw" and code == 0x7F) else code  # µ-law -0 becomes +0
        assert encode(decode(code)) == expected


def test_segment_steps_double_each_segment_alaw():
    """A-law: segments 0 and 1 have the same step, then each doubles (G.711 §2)."""
    steps = []
    for segment in range(8):
        code = (0x80 | segment << 4) ^ 0x55
        steps.append(g711.alaw_to_linear(code ^ 0x01) - g711.alaw_to_linear(code))
    assert [abs(s) for s in steps] == [16, 16, 32, 64, 128, 256, 512, 1024]


def test_alaw_ulaw_conversion_goes_through_linear():
    assert g711.ulaw_to_alaw(b"\xff\x7f\x80\x00") == g711.alaw_encode(
        g711.ulaw_decode(b"\xff\x7f\x80\x00"))
    assert g711.alaw_to_ulaw(ALL_CODES) == g711.ulaw_encode(g711.alaw_decode(ALL_CODES))


def test_odd_length_pcm_is_refused():
    with pytest.raises(ValueError, match="whole 16-bit samples; got 3 bytes"):
        g711.ulaw_encode(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="got 1 bytes"):
        g711.alaw_encode(b"\x00")


def test_empty_and_single_sample_frames():
    assert g711.ulaw_encode(b"") == b"" and g711.ulaw_decode(b"") == b""
    assert g711.alaw_encode(pcm(1000)) == bytes([g711.alaw_from_linear(1000)])
    assert g711.ulaw_encode(bytearray(pcm(-5))) == bytes([g711.ulaw_from_linear(-5)])


def test_a_20ms_frame_is_160_codes_and_320_bytes_back():
    frame = pcm(*range(-8000, 8000, 100))
    assert len(frame) == 320
    assert len(g711.ulaw_encode(frame)) == 160
    assert len(g711.alaw_decode(g711.alaw_encode(frame))) == 320


# --- bit-exact against the reference codec ------------------------------------------------


def test_every_16bit_sample_encodes_like_the_reference():
    audioop = reference()
    assert g711.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)
    assert g711.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)


def test_every_code_decodes_like_the_reference():
    audioop = reference()
    assert g711.ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)
    assert g711.alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


@given(st.binary(max_size=400).filter(lambda b: len(b) % 2 == 0))
def test_random_frames_match_the_reference(frame):
    audioop = reference()
    assert g711.ulaw_encode(frame) == audioop.lin2ulaw(frame, 2)
    assert g711.alaw_encode(frame) == audioop.lin2alaw(frame, 2)
    assert g711.ulaw_decode(frame) == audioop.ulaw2lin(frame, 2)
