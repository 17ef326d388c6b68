"""Transcoding of a relayed stream: G.711 <-> G.729 through the native codec, packet by
packet (sequence, timestamp, SSRC kept), and through the relay's real UDP sockets."""

import asyncio
import math
import socket
from array import array

from tests.daemon_runner import free_rtp_range
from wpbxd.telephony.media import g711, rtp
from wpbxd.telephony.media.dtmf import build_event, tone_pcm
from wpbxd.telephony.media.negotiation import BridgePlan
from wpbxd.telephony.media.relay import PortAllocator, RtpRelay
from wpbxd.telephony.media.transcode import PacketTranslator, translators

HOST = "127.0.0.1"
RECV_TIMEOUT = 5.0  # seconds; bounds a broken test only


def speechlike(samples: int) -> bytes:
    """A voiced sound: harmonics of 150 Hz with a slow amplitude swing."""
    out = array("h")
    for i in range(samples):
        t = i / 8000
        env = 0.6 + 0.4 * math.sin(2 * math.pi * 3 * t)
        value = sum(math.sin(2 * math.pi * 150 * k * t) / k for k in range(1, 12)) * 4000 * env
        out.append(int(max(-32768, min(32767, value))))
    return out.tobytes()


def correlation(a: bytes, b: bytes, max_lag: int = 200) -> float:
    """Best normalised cross-correlation over lags 0..max_lag (codec delay)."""
    x, y = array("h"), array("h")
    x.frombytes(a)
    y.frombytes(b)
    best = 0.0
    n = min(len(x), len(y)) - max_lag
    for lag in range(0, max_lag, 2):
        xs, ys = x[:n], y[lag:lag + n]
        num = sum(p * q for p, q in zip(xs, ys, strict=True))
        den = math.sqrt(sum(p * p for p in xs) * sum(q * q for q in ys)) or 1.0
        best = max(best, num / den)
    return best


def test_pcmu_to_g729_and_back_keeps_the_signal_and_the_header():
    from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder
    to_g729 = PacketTranslator("PCMU", 0, 101, "G729", 18, 96)
    to_pcmu = PacketTranslator("G729", 18, 96, "PCMU", 0, 101)
    ref_enc, ref_dec = G729Encoder(), G729Decoder()
    pcm = speechlike(8000)
    back = bytearray()
    for i in range(50):
        payload = g711.ulaw_encode(pcm[i * 320:(i + 1) * 320])
        packet = rtp.build(0, 1000 + i, 160 * i, 0xABC, payload, marker=(i == 0))
        g729 = rtp.parse(to_g729(memoryview(packet)))
        assert (g729.payload_type, g729.sequence, g729.timestamp, g729.ssrc) == (18, 1000 + i, 160 * i, 0xABC)
        assert len(g729.payload) == 20 and g729.marker == (i == 0)
        # the same bits as the codec itself gives for the G.711-decoded audio
        assert g729.payload == ref_enc.encode(g711.ulaw_decode(payload))
        pcmu = rtp.parse(to_pcmu(memoryview(rtp.build(18, g729.sequence, g729.timestamp, 1, g729.payload))))
        assert pcmu.payload_type == 0
        assert pcmu.payload == g711.ulaw_encode(ref_dec.decode(g729.payload))
        back += g711.ulaw_decode(pcmu.payload)
    # a waveform codec it is not, but the voice must come through
    assert correlation(pcm[1600:], bytes(back[1600:])) > 0.4


def test_telephone_event_gets_the_other_payload_type_and_other_packets_are_dropped():
    translate = PacketTranslator("PCMA", 8, 101, "G729", 18, 96)
    event = rtp.parse(translate(memoryview(rtp.build(101, 5, 800, 1, build_event("5", 160, False)))))
    assert event.payload_type == 96 and event.payload == build_event("5", 160, False)
    assert translate(memoryview(rtp.build(13, 6, 960, 1, b"\x40"))) is None      # comfort noise
    assert translate(memoryview(b"\x00\x01garbage")) is None
    assert translate(memoryview(rtp.build(8, 7, 960, 1, b"\xd5" * 100))) is None  # not whole 10 ms
    assert translate.dropped == 3


def test_g729_sid_frame_decodes_to_g711_comfort_noise():
    translate = PacketTranslator("G729", 18, None, "PCMA", 8, None)
    out = rtp.parse(translate(memoryview(rtp.build(18, 1, 0, 1, b"\x00" * 20 + b"\x12\x34"))))
    assert len(out.payload) == 240          # two speech frames + one SID frame, 10 ms each


def test_relay_transcodes_both_ways_between_real_sockets():
    async def scenario():
        relay = RtpRelay(PortAllocator(*free_rtp_range(20)), HOST)
        stream = relay.open_stream()
        g729_phone, pcma_phone = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
        for s in (g729_phone, pcma_phone):
            s.bind((HOST, 0))
            s.setblocking(False)
        stream.set_remote("a", HOST, g729_phone.getsockname()[1])
        stream.set_remote("b", HOST, pcma_phone.getsockname()[1])
        a_to_b, b_to_a = translators(BridgePlan("G729", 18, None, "PCMA", 8, None))
        stream.set_transcoders(a_to_b, b_to_a)
        loop = asyncio.get_running_loop()
        tone = tone_pcm((700.0,), 160 * 30, 6000)
        from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder
        enc, dec = G729Encoder(), G729Decoder()
        heard_b, heard_a = bytearray(), bytearray()
        for i in range(30):
            frame = tone[i * 320:(i + 1) * 320]
            g729_phone.sendto(rtp.build(18, i, 160 * i, 1, enc.encode(frame)), (HOST, stream.a.local_port))
            data = await asyncio.wait_for(loop.sock_recv(pcma_phone, 2048), RECV_TIMEOUT)
            p = rtp.parse(data)
            assert p.payload_type == 8 and p.sequence == i
            heard_b += g711.alaw_decode(p.payload)
            pcma_phone.sendto(rtp.build(8, i, 160 * i, 2, g711.alaw_encode(frame)), (HOST, stream.b.local_port))
            q = rtp.parse(await asyncio.wait_for(loop.sock_recv(g729_phone, 2048), RECV_TIMEOUT))
            assert q.payload_type == 18 and len(q.payload) == 20
            heard_a += dec.decode(q.payload)
        assert correlation(tone[1600:], bytes(heard_b[1600:])) > 0.8
        assert correlation(tone[1600:], bytes(heard_a[1600:])) > 0.8
        assert stream.stats()["a_to_b"]["packets"] == 30
        stream.set_transcoders(None, None)                     # back to the plain path
        g729_phone.sendto(rtp.build(18, 99, 0, 1, b"\x01" * 20), (HOST, stream.a.local_port))
        plain = await asyncio.wait_for(loop.sock_recv(pcma_phone, 2048), RECV_TIMEOUT)
        assert rtp.parse(plain).payload == b"\x01" * 20
        relay.close()
        g729_phone.close()
        pcma_phone.close()

    asyncio.run(scenario())


def test_only_from_passes_one_ssrc_and_can_wrap_a_translator():
    from wpbxd.telephony.media.transcode import only_from
    keep = only_from(0xAB)
    assert keep(memoryview(rtp.build(8, 1, 0, 0xAB, b"\xd5" * 160))) == rtp.build(8, 1, 0, 0xAB, b"\xd5" * 160)
    assert keep(memoryview(rtp.build(8, 1, 0, 0xAC, b"\xd5" * 160))) is None
    assert keep(memoryview(b"\x80\x08")) is None
    wrapped = only_from(0xAB, PacketTranslator("PCMA", 8, None, "PCMU", 0, None))
    assert rtp.parse(wrapped(memoryview(rtp.build(8, 1, 0, 0xAB, b"\xd5" * 160)))).payload_type == 0
