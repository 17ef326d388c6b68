"""Sans-IO cores of the media engine: RTP numbering and jitter buffer (RFC 3550),
telephone-events (RFC 4733), Goertzel DTMF (ITU-T Q.23/Q.24), fax CNG (T.30),
tone zones (ITU-T E.180 Sup. 2)."""

import array
import random

import pytest

from wpbxd.telephony.media import rtp, tones
from wpbxd.telephony.media.dtmf import (
    CngDetector,
    DtmfDetector,
    DtmfError,
    EventReceiver,
    build_event,
    digit_payloads,
    dtmf_pcm,
    parse_event,
    tone_pcm,
)


def packet(seq: int, payload: bytes = b"x", ssrc: int = 5) -> rtp.RtpPacket:
    return rtp.parse(rtp.build(0, seq, seq * 160, ssrc, payload))


def test_rtp_build_and_parse_round_trip_with_padding_and_csrc():
    data = rtp.build(18, 65535, 2**32 - 1, 0xDEADBEEF, b"\x01" * 20, marker=True)
    p = rtp.parse(data)
    assert (p.payload_type, p.sequence, p.timestamp, p.ssrc, p.marker, p.payload) == \
        (18, 65535, 2**32 - 1, 0xDEADBEEF, True, b"\x01" * 20)
    # one CSRC and 3 bytes of padding (RFC 3550 §5.1)
    padded = bytes([0xA1, 0]) + data[2:12] + b"CSRC" + b"abc" + b"\x00\x00\x03"
    assert rtp.parse(padded).payload == b"abc"


@pytest.mark.parametrize("bad", [b"", b"\x80" * 5, b"\x40" + b"\x00" * 20, b"\xa0" + b"\x00" * 11 + b"\x09"])
def test_rtp_parse_refuses_what_is_not_rtp(bad):
    with pytest.raises(rtp.RtpError):
        rtp.parse(bad)


def test_sender_numbers_packets_and_wraps():
    sender = rtp.RtpSender(ssrc=7)
    sender.sequence, sender.timestamp = 65535, 2**32 - 80
    a = rtp.parse(sender.packet(0, b"a", 160))
    b = rtp.parse(sender.packet(0, b"b", 160))
    assert (a.sequence, b.sequence) == (65535, 0)
    assert b.timestamp == 80 and b.ssrc == 7


def test_jitter_buffer_reorders_and_reports_gaps():
    jb = rtp.JitterBuffer(depth=2)
    for seq in (11, 10, 13, 12, 15):       # 14 never comes
        jb.push(packet(seq))
    out = [jb.pop() for _ in range(6)]
    assert [p.sequence if p else None for p in out] == [10, 11, 12, 13, None, 15]
    assert jb.lost == 1
    jb.push(packet(12))                    # too late now
    assert jb.late == 1


def test_jitter_buffer_waits_for_depth_then_restarts_on_a_new_sender():
    jb = rtp.JitterBuffer(depth=3)
    jb.push(packet(100))
    assert jb.pop() is None                # still filling
    jb.push(packet(101))
    jb.push(packet(102))
    assert jb.pop().sequence == 100
    jb.push(packet(40000, ssrc=9))         # another SSRC: start over
    assert jb.restarts == 1
    assert [jb.pop() for _ in range(2)] == [None, None]
    assert jb.pop().sequence == 40000


def test_jitter_buffer_handles_sequence_wrap():
    jb = rtp.JitterBuffer(depth=1)
    for seq in (65534, 65535, 0, 1):
        jb.push(packet(seq))
    assert [jb.pop().sequence for _ in range(4)] == [65534, 65535, 0, 1]


def test_telephone_event_payload_rfc4733_layout():
    payload = build_event("#", 800, end=True, volume=10)
    assert payload == bytes([11, 0x80 | 10, 0x03, 0x20])
    event = parse_event(payload)
    assert (event.digit, event.end, event.duration) == ("#", True, 800)
    with pytest.raises(DtmfError):
        build_event("x", 160, False)
    with pytest.raises(DtmfError):
        parse_event(b"\x01")


def test_one_digit_per_key_press_despite_updates_and_three_end_packets():
    receiver = EventReceiver()
    packets = digit_payloads("7")
    assert packets[0][1] is True and not any(m for _, m in packets[1:])
    assert sum(1 for p, _ in packets if parse_event(p).end) == 3
    got = [receiver.feed(1000, p) for p, _ in packets]
    assert [d for d in got if d] == ["7"]
    # the same key pressed again is a new event (new timestamp)
    assert [d for d in (receiver.feed(3000, p) for p, _ in packets) if d] == ["7"]


def noise(samples: int, amplitude: int, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    return array.array("h", [rnd.randint(-amplitude, amplitude) for _ in range(samples)]).tobytes()


def mix(a: bytes, b: bytes) -> bytes:
    x, y = array.array("h"), array.array("h")
    x.frombytes(a)
    y.frombytes(b)
    return array.array("h", [max(-32768, min(32767, p + q)) for p, q in zip(x, y, strict=False)]).tobytes()


@pytest.mark.parametrize("digit", list("0123456789*#ABCD"))
def test_goertzel_detects_every_dtmf_key_in_noise(digit):
    detector = DtmfDetector()
    pcm = mix(dtmf_pcm(digit, 640), noise(640, 300)) + bytes(1600)
    assert detector.feed(pcm) == [digit]


def test_goertzel_reports_a_long_key_once_and_two_presses_twice():
    detector = DtmfDetector()
    assert detector.feed(dtmf_pcm("5", 4000)) == ["5"]
    assert detector.feed(bytes(800) + dtmf_pcm("5", 800)) == ["5"]


def test_goertzel_ignores_single_tones_noise_and_too_short_keys():
    detector = DtmfDetector()
    assert detector.feed(tone_pcm((1100.0,), 4000)) == []
    assert detector.feed(tone_pcm((440.0,), 4000)) == []
    assert detector.feed(noise(8000, 8000)) == []
    assert detector.feed(dtmf_pcm("1", 200) + bytes(800)) == []   # 25 ms: under Q.24's 40 ms


def test_cng_fax_tone_is_detected_and_other_sounds_are_not():
    assert CngDetector().feed(bytes(800) + tone_pcm((1100.0,), 4400))        # 0.55 s of 1100 Hz
    assert not CngDetector().feed(tone_pcm((1100.0,), 1600))                  # 0.2 s is too short
    assert not CngDetector().feed(tone_pcm((1000.0,), 8000))                  # a 1 kHz beep
    assert not CngDetector().feed(dtmf_pcm("6", 8000))                        # 1477 + 770 Hz
    assert not CngDetector().feed(noise(8000, 10000))


def test_tone_zones_have_the_e180_cadences():
    fr_busy = tones.cadence("fr", "busy")
    assert [(s.freqs, s.ms) for s in fr_busy] == [((440.0,), 500), ((), 500)]
    assert tones.cadence("us", "ringback")[0].freqs == (440.0, 480.0)
    assert len(tones.render("fr", "ringback")) == 2 * 8 * (1500 + 3500)
    with pytest.raises(tones.UnknownTone):
        tones.cadence("xx", "busy")
    with pytest.raises(tones.UnknownTone):
        tones.cadence("fr", "howler")
