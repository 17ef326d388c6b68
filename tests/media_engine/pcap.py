"""Write RTP streams into pcap files for ``sipp``'s ``play_pcap_audio`` (libpcap format,
Ethernet + IPv4 + UDP; sipp sends the UDP payloads with the captured timing).

``rtp_stream`` builds the packets a phone would send: 20 ms voice packets of a
codec, replaced by RFC 4733 telephone-event packets while a key is pressed."""

import struct
from pathlib import Path

from wpbxd.telephony.media import rtp
from wpbxd.telephony.media.codec import FRAME_PCM_BYTES, FRAME_SAMPLES, Codec
from wpbxd.telephony.media.dtmf import digit_payloads

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
PACKET_SECONDS = 0.020


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_pcap(path: Path, packets: list[tuple[float, bytes]], src_port: int = 6000, dst_port: int = 6002) -> Path:
    out = [struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET)]
    for when, payload in packets:
        udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xB8, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        seconds = int(when)
        out.append(struct.pack("<IIII", seconds, int((when - seconds) * 1e6), len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def rtp_stream(pcm: bytes, codec: str, digits: dict[float, str] | None = None,
               event_pt: int = 101, start: float = 1.0) -> list[tuple[float, bytes]]:
    """Packets (time, RTP) sending ``pcm`` in ``codec``; at each time of ``digits`` a key
    is sent as telephone-events in place of the voice packets of that moment."""
    encoder = Codec(codec)
    sender = rtp.RtpSender(ssrc=0x5EED)
    pending = sorted((digits or {}).items())
    packets: list[tuple[float, bytes]] = []
    events: list[tuple[bytes, bool]] = []
    event_ts = 0
    for index in range(len(pcm) // FRAME_PCM_BYTES):
        when = index * PACKET_SECONDS
        if not events and pending and pending[0][0] <= when:
            events = list(digit_payloads(pending.pop(0)[1]))
        if events:
            payload, marker = events.pop(0)
            if marker:
                event_ts = sender.timestamp
            data = sender.event_packet(event_pt, payload, event_ts, marker)
            sender.skip(FRAME_SAMPLES)
        else:
            frame = pcm[index * FRAME_PCM_BYTES:(index + 1) * FRAME_PCM_BYTES]
            data = sender.packet(encoder.payload_type, encoder.encode(frame), FRAME_SAMPLES)
        packets.append((start + when, data))
    encoder.close()
    if pending:
        raise ValueError(f"keys at {[t for t, _ in pending]} s fall after the end of the audio")
    return packets
