"""RFC 4733 events <-> in-band DTMF between a leg with telephone-event and a leg without
(sans-IO): the tone made of a key press's events, the events made of a detected tone,
the packet translator doing both on a relayed stream, and the bridge plan choosing it."""

import math
from array import array

from tests.media_engine.pcap import rtp_stream
from tests.media_engine.test_negotiation import offer
from wpbxd.telephony.media import g711, rtp
from wpbxd.telephony.media.dtmf import (
    COLS,
    DEFAULT_VOLUME,
    KEYPAD,
    ROWS,
    DtmfDetector,
    EventReceiver,
    digit_payloads,
    dtmf_pcm,
    parse_event,
    volume_amplitude,
)
from wpbxd.telephony.media.dtmf_interworking import EventsToTones, TonesToEvents
from wpbxd.telephony.media.negotiation import answer_for_caller, plan_bridge
from wpbxd.telephony.media.transcode import translators

PACKET = 160        # samples per 20 ms packet


def share(pcm: bytes, freq: float) -> float:
    """Share of the power of ``pcm`` at ``freq`` (Goertzel over all of it)."""
    x = array("h")
    x.frombytes(pcm)
    n = len(x)
    c = 2 * math.cos(2 * math.pi * freq / 8000)          # the exact frequency, not the nearest bin
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + c * s1 - s2, s1
    total = sum(v * v for v in x) / n
    return (s1 * s1 + s2 * s2 - c * s1 * s2) * 2 / (n * n * total) if total else 0.0


def keys_in(pcm: bytes, window: int = 400) -> str:
    """The keys heard, in order (a key counts again only after a window without it)."""
    out, last = [], None
    for i in range(0, len(pcm) - 2 * window + 1, 2 * window):
        piece = pcm[i:i + 2 * window]
        key = None
        for r, row in enumerate(ROWS):
            for c, col in enumerate(COLS):
                if share(piece, row) > 0.3 and share(piece, col) > 0.3:
                    key = KEYPAD[r][c]
        if key is not None and key != last:
            out.append(key)
        last = key
    return "".join(out)


# -- events -> tones (RFC 4733 §2.5 sender packets in, Q.23 tone pair out) -----------------


def test_a_key_press_becomes_its_tone_pair_for_the_events_duration():
    play = EventsToTones()
    frames = [play.feed(40000, payload) for payload, _marker in digit_payloads("5", samples=800)]
    sounding = [f for f in frames if f is not None]
    assert frames[-2:] == [None, None]               # the end's two retransmissions add nothing
    assert [f.timestamp for f in sounding] == [40000 + PACKET * i for i in range(5)]
    pcm = b"".join(f.pcm for f in sounding)
    assert pcm == dtmf_pcm("5", 800, volume_amplitude(DEFAULT_VOLUME))    # one phase-continuous tone
    assert DtmfDetector().feed(pcm) == ["5"]


def test_a_second_press_of_the_same_key_is_a_new_tone_and_other_events_are_ignored():
    play = EventsToTones()
    first = [play.feed(1000, p) for p, _ in digit_payloads("1", samples=320)]
    again = [play.feed(2000, p) for p, _ in digit_payloads("1", samples=320)]
    assert sum(len(f.pcm) for f in first if f) == sum(len(f.pcm) for f in again if f) == 2 * 320
    flash = bytes((16, 0x0A, 0, 160))                # event 16 (flash): not a key
    assert play.feed(3000, flash) is None


def test_the_volume_field_sets_the_tone_level():
    loud = EventsToTones().feed(0, bytes((3, 0, 0, 160)))       # 0 dBm0
    soft = EventsToTones().feed(0, bytes((3, 20, 0, 160)))      # -20 dBm0
    rms = [math.sqrt(sum(v * v for v in array("h", f.pcm)) / 160) for f in (loud, soft)]
    assert 9.0 < rms[0] / rms[1] < 11.0


# -- tones -> events (Goertzel detection in, RFC 4733 packets out) -------------------------


def test_a_detected_tone_becomes_start_updates_and_three_end_packets_with_one_timestamp():
    detect = TonesToEvents()
    audio = bytes(2 * 800) + dtmf_pcm("7", 1600, 7000) + bytes(2 * 1600)
    out = []
    for i in range(len(audio) // (2 * PACKET)):
        ts = 8000 + PACKET * i
        out.append((ts, detect.feed(ts, audio[i * 2 * PACKET:(i + 1) * 2 * PACKET])))
    events = [(ts, e) for ts, e in out if e is not None]
    assert all(e is None for _ts, e in out[:5])                 # silence passes as voice
    first_ts, first = events[0]
    assert first.marker and first.timestamp == first_ts
    assert [e.marker for _ts, e in events[1:]] == [False] * (len(events) - 1)
    assert {e.timestamp for _ts, e in events} == {first.timestamp}
    parsed = [parse_event(e.payload) for _ts, e in events]
    assert {p.digit for p in parsed} == {"7"}
    assert [p.end for p in parsed[-3:]] == [True] * 3 and not any(p.end for p in parsed[:-3])
    assert len({e.payload for _ts, e in events[-3:]}) == 1      # the same end packet three times
    durations = [p.duration for p in parsed[:-3]]
    assert durations == [PACKET * (i + 1) for i in range(len(durations))]
    assert parsed[-1].duration == durations[-1]
    samples_in_event = parsed[-1].duration        # RFC 4733 duration field: samples at 8 kHz
    assert 1200 <= samples_in_event <= 1600      # the tone's 200 ms less detection time
    ts_after = [ts for ts, e in out if e is None and ts > first_ts]
    assert ts_after and min(ts_after) > max(ts for ts, _e in events)   # voice again after the end


def test_two_keys_in_a_row_give_two_events():
    detect = TonesToEvents()
    audio = dtmf_pcm("1", 800, 7000) + bytes(2 * 480) + dtmf_pcm("1", 800, 7000) + bytes(2 * 1600)
    receiver = EventReceiver()
    keys = []
    for i in range(len(audio) // (2 * PACKET)):
        e = detect.feed(PACKET * i, audio[i * 2 * PACKET:(i + 1) * 2 * PACKET])
        if e is not None:
            key = receiver.feed(e.timestamp, e.payload)
            if key:
                keys.append(key)
    assert keys == ["1", "1"]


# -- the packet translator on a relayed stream (PCMA both sides, events on side a only) ----


def plan_a_events_only():
    a = offer("8 101", ["8 PCMA/8000", "101 telephone-event/8000"])
    b = offer("8", ["8 PCMA/8000"])
    return plan_bridge(a, b)


def test_events_from_the_leg_with_telephone_event_arrive_as_tones_in_a_gapless_stream():
    a_to_b, _b_to_a = translators(plan_a_events_only())
    silence = bytes(2 * 8000 * 3)
    sent = [packet for _when, packet in rtp_stream(silence, "PCMA", {0.4: "1", 1.2: "2", 2.0: "3"})]
    out = [rtp.parse(p) for p in (a_to_b(memoryview(packet)) for packet in sent) if p is not None]
    assert {p.payload_type for p in out} == {8}
    assert len(out) == len(sent) - 3 * 2                        # only the end retransmissions are absorbed
    seqs = [p.sequence for p in out]
    assert seqs == [(seqs[0] + i) % 65536 for i in range(len(seqs))]
    stamps = [p.timestamp for p in out]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert keys_in(b"".join(g711.alaw_decode(p.payload) for p in out)) == "123"


def test_tones_from_the_leg_without_telephone_event_arrive_as_events():
    _a_to_b, b_to_a = translators(plan_a_events_only())
    audio = bytes(4000) + dtmf_pcm("4", 1200, 7000) + bytes(3200) + dtmf_pcm("#", 1200, 7000) + bytes(6400)
    sender = rtp.RtpSender(ssrc=0xB0B)
    out = []
    for i in range(len(audio) // (2 * PACKET)):
        packet = sender.packet(8, g711.alaw_encode(audio[i * 2 * PACKET:(i + 1) * 2 * PACKET]), PACKET)
        out.append(rtp.parse(b_to_a(memoryview(packet))))
    assert len(out) == len(audio) // (2 * PACKET)               # one packet out per packet in
    events = [p for p in out if p.payload_type == 101]
    receiver = EventReceiver()
    keys = [k for k in (receiver.feed(p.timestamp, p.payload) for p in events) if k]
    assert keys == ["4", "#"]
    assert sum(p.marker for p in events) == 2
    assert sum(parse_event(p.payload).end for p in events) == 6


def test_the_bridge_plan_translates_only_when_one_side_has_telephone_event():
    with_te = offer("8 101", ["8 PCMA/8000", "101 telephone-event/8000"])
    without = offer("8", ["8 PCMA/8000"])
    assert plan_bridge(with_te, with_te) is None                # both: pure relay
    assert plan_bridge(without, without) is None                # neither: pure relay (in-band passes)
    plan = plan_bridge(with_te, without)
    assert plan.translates_dtmf and not plan.transcodes
    assert (plan.a_event_pt, plan.b_event_pt) == (101, None)
    answer = answer_for_caller(without, plan)
    assert answer.media[0].formats == ["8", "101"]              # the caller keeps telephone-event
    reverse = plan_bridge(without, with_te)
    assert reverse.translates_dtmf and (reverse.a_event_pt, reverse.b_event_pt) == (None, 101)
    assert answer_for_caller(with_te, reverse).media[0].formats == ["8"]
