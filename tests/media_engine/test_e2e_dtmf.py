"""End to end through a real wpbxd: DTMF between a phone with telephone-event and one without.

A sipp caller that offers PCMA and telephone-event (RFC 4733) calls a sipp callee that
answers PCMA only. The PBX bridges them through its media-processing path instead of
the pure relay (``negotiation.plan_bridge``):
  - the caller's keys 1, 2, 3, sent as RFC 4733 events from a pcap, reach the callee
    as in-band tone pairs that this test's own Goertzel finds, in order;
  - the callee's keys 4, 5, 6, sent in-band from a pcap, reach the caller as RFC 4733
    events (start with the marker bit, one timestamp per key, the end three times).
What each phone receives is captured on loopback (AF_PACKET, needs root) from the
relay port facing it, as in the music-on-hold test.
"""

import os
import time

import pytest

from tests.daemon_runner import free_port
from tests.media_engine.pcap import rtp_stream, write_pcap
from tests.media_engine.test_dtmf_interworking import keys_in
from tests.media_engine.test_e2e_sip import (
    SIPP_TIMEOUT,
    Sniffer,
    add_users,
    cdr_rows,
    run_uac,
    workdir,
)
from tests.sip import sipp
from tests.sip.conftest import password_for
from wpbxd.telephony.media import g711, rtp
from wpbxd.telephony.media.dtmf import EventReceiver, dtmf_pcm, parse_event

WITH_EVENTS = ("m=audio [media_port] RTP/AVP 8 0 101\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000\n"
               "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15")
PCMA_ONLY = "m=audio [media_port] RTP/AVP 8\na=rtpmap:8 PCMA/8000"
TONE_SAMPLES = 1200          # 150 ms per in-band key
KEY_TIMES = (1.5, 2.1, 2.7)  # seconds into each pcap
PCAP_SECONDS = 5


@pytest.fixture
def pbx(wpbxd):
    from tests.conftest import need_tool
    need_tool("sipp")
    if os.geteuid() != 0:
        pytest.skip("capturing on loopback needs root")
    return wpbxd


def callee_scenario(pcap: str) -> str:
    """A sipp callee answering PCMA only (no telephone-event) that plays ``pcap`` after the ACK."""
    text = sipp.uas("answer")
    assert WITH_EVENTS in text
    ack = '  <recv request="ACK" rtd="true" crlf="true"/>\n'
    assert ack in text
    return text.replace(WITH_EVENTS, PCMA_ONLY).replace(
        ack, ack + f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n')


def in_band_keys(keys: str) -> bytes:
    """PCM of ``PCAP_SECONDS`` with the tone pair of each key at ``KEY_TIMES``."""
    pcm = bytearray(2 * 8000 * PCAP_SECONDS)
    for when, key in zip(KEY_TIMES, keys, strict=True):
        at = 2 * int(8000 * when)
        pcm[at:at + 2 * TONE_SAMPLES] = dtmf_pcm(key, TONE_SAMPLES, 7000)
    return bytes(pcm)


def packets(sniffer: Sniffer) -> list[rtp.RtpPacket]:
    out = []
    for payload in sniffer.payloads:
        try:
            out.append(rtp.parse(payload))
        except rtp.RtpError:
            continue
    return out


def test_rfc4733_and_in_band_dtmf_cross_between_a_phone_with_events_and_one_without(pbx, tmp_path):
    """RFC 4733 §2 (events) and ITU-T Q.23/Q.24 (tones): each phone gets DTMF its own way."""
    add_users(pbx, [{"extension": "5001"}, {"extension": "305"}])
    work = workdir(tmp_path)
    uas_port = free_port()
    reg = sipp.write(work / "register.xml", sipp.register())
    users = sipp.users_csv(work / "reg-305.csv", [("305", password_for("305"))])
    result = sipp.run(reg, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1", "-p", str(uas_port),
                      cwd=work, timeout=20)
    assert result.returncode == 0, sipp.errors(work) or result.stderr[-2000:]
    tones = write_pcap(work / "callee.pcap", rtp_stream(in_band_keys("456"), "PCMA", start=0.0))
    uas = sipp.run(sipp.write(work / "uas.xml", callee_scenario(str(tones))), f"127.0.0.1:{pbx.sip_port}",
                   "-m", "1", "-p", str(uas_port), "-mp", str(free_port()), cwd=work, timeout=SIPP_TIMEOUT,
                   wait=False)
    events = write_pcap(work / "caller.pcap", rtp_stream(bytes(2 * 8000 * PCAP_SECONDS), "PCMA",
                                                         dict(zip(KEY_TIMES, "123", strict=True)), start=0.0))
    uac = run_uac(pbx, work, sipp.uac_call(pcap=str(events)), "5001", "305", "-d", str(1000 * PCAP_SECONDS + 500),
                  wait=False)
    to_caller = to_callee = None
    try:
        deadline = time.monotonic() + 10
        while to_caller is None and time.monotonic() < deadline:
            calls = pbx.call("calls.list")
            if calls and calls[0]["state"] == "answered" and calls[0]["media"]:
                media = calls[0]["media"][0]
                to_caller, to_callee = Sniffer(media["a"]["local_port"]), Sniffer(media["b"]["local_port"])
            time.sleep(0.02)
        assert to_caller is not None, "the call was never answered"
        assert uac.wait(timeout=SIPP_TIMEOUT) == 0, sipp.errors(work)
        assert uas.wait(timeout=SIPP_TIMEOUT) == 0, sipp.errors(work)
    finally:
        for sniffer in (to_caller, to_callee):
            if sniffer is not None:
                sniffer.stop()
        for proc in (uac, uas):
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    # (a) the callee (no telephone-event) hears the caller's events as tones, and no events
    heard = packets(to_callee)
    assert heard and {p.payload_type for p in heard} == {8}
    assert keys_in(b"".join(g711.alaw_decode(p.payload) for p in heard)) == "123"

    # (b) the caller (telephone-event) gets the callee's in-band keys as RFC 4733 events
    got = [p for p in packets(to_caller) if p.payload_type == 101]
    receiver = EventReceiver()
    assert "".join(k for k in (receiver.feed(p.timestamp, p.payload) for p in got) if k) == "456"
    by_key: dict[int, list[rtp.RtpPacket]] = {}
    for p in got:
        by_key.setdefault(p.timestamp, []).append(p)
    assert len(by_key) == 3
    for press in by_key.values():
        parsed = [parse_event(p.payload) for p in press]
        assert press[0].marker and not any(p.marker for p in press[1:])
        assert [e.end for e in parsed[-3:]] == [True] * 3 and not any(e.end for e in parsed[:-3])
        samples_in_event = parsed[-1].duration          # RFC 4733 duration field: samples, not time
        assert 0 < samples_in_event <= TONE_SAMPLES

    row = cdr_rows(pbx, 1)[0]
    assert row["disposition"] == "ANSWERED" and row["codec"] == "PCMA", row  # DTMF translated, not transcoded
