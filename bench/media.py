"""How many G.711 <-> G.729 transcoded calls one core sustains, for wpbx and anchors.

A call is one relayed stream whose legs share no codec: side a sends G.729
(20 ms packets, two 10-byte frames), side b sends PCMA (160 bytes); the relay
decodes and re-encodes every packet both ways, so each call costs per second 100
G.729 frames encoded, 100 decoded and 100 G.711 packets each way. A load
generator (Python, in its own process pinned to CPU 1) plays both phones of
every call from one socket, spreads its sends evenly over each 20 ms period,
remembers each packet's send time and matches what comes back by order per
endpoint (rtpengine renumbers SSRC and sequence), and counts what comes back
lost or late: one-way delay more than ``LATE_US`` above the step's
5th-percentile delay, i.e. queued behind the relay's steady delay (rtpengine
paces what it encodes and so adds a constant delay of its own). The relay
under test runs alone on CPU 0. The call count is stepped up until a step loses
or delays a packet; the last clean step is the figure, and "projected" is the
calls one core would carry at the step's CPU cost per call.
CPU is read from ``/proc/PID/stat`` of the relay process.

Relays measured, in the same run:
  wpbx        RtpRelay with ``set_transcoders`` (transcode.PacketTranslator over the
              native G.729 codec and pure-Python G.711 tables)
  rtpengine   Debian's rtpengine in userspace mode (one worker thread), told to
              transcode with its ng protocol (offer G.729 only, ``codec transcode
              PCMA``, answer PCMA only); its G.729 is libbcg729
and, as a labelled *computed* anchor (no network, no relay): the codec-only
bound, i.e. calls/core if a transcoder spent nothing but the codec time, with our
codec and with libbcg729 (same method as ``bench/codec.py``: C loops over frames).

Plain relaying (no transcoding) is measured by ``bench/media_relay.py``.
Run: .venv/bin/python bench/media.py [--steps 25,50,...] [--seconds 4] [--relays wpbx,rtpengine]
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.media_relay import NgClient, _cpu_seconds, _free_udp_port, _pin  # noqa: E402
from wpbxd.telephony.media import g711, rtp  # noqa: E402
from wpbxd.telephony.media.sdp import SessionDescription  # noqa: E402

HOST = "127.0.0.1"
PERIOD = 0.020              # seconds per packet and direction
LATE_US = 40_000            # two packet intervals: later is late (as bench/media_relay.py)
DRAIN = 0.5                 # seconds to wait for the last packets
RELAY_CPU, LOAD_CPU = 0, 1
RTP_RANGE = (30000, 59999)
DEFAULT_STEPS = "25,50,75,100,125,150,200"
FRAMES_PER_CALL_SECOND = 100  # G.729 frames per second of a call, each way (10 ms frames)


def _g729_payload() -> bytes:
    from wpbxd.telephony.media.dtmf import tone_pcm
    from wpbxd.telephony.media.g729 import G729Encoder
    pcm = tone_pcm((300.0, 700.0, 1300.0), 160, 5000)
    with G729Encoder() as enc:
        enc.encode(pcm)
        return enc.encode(pcm)


def _pcma_payload() -> bytes:
    from wpbxd.telephony.media.dtmf import tone_pcm
    return g711.alaw_encode(tone_pcm((400.0, 900.0), 160, 5000))


# --- the relay children ---------------------------------------------------------------------


async def _child_wpbx(calls: int, phone_port: int) -> None:
    from wpbxd.telephony.media.negotiation import BridgePlan
    from wpbxd.telephony.media.relay import PortAllocator, RtpRelay
    from wpbxd.telephony.media.transcode import translators
    relay = RtpRelay(PortAllocator(*RTP_RANGE), HOST)
    ports = []
    for _ in range(calls):
        stream = relay.open_stream()
        stream.set_remote("a", HOST, phone_port)
        stream.set_remote("b", HOST, phone_port)
        stream.set_transcoders(*translators(BridgePlan("G729", 18, None, "PCMA", 8, None)))
        ports += [stream.a.local_port, stream.b.local_port]
    print(" ".join(map(str, ports)), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    relay.close()


def _sdp(port: int, session: int, codec: str) -> str:
    pt = {"G729": 18, "PCMA": 8}[codec]
    extra = "a=fmtp:18 annexb=no\r\n" if codec == "G729" else ""
    return (f"v=0\r\no=- {session} 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {codec}/8000\r\n{extra}a=ptime:20\r\na=sendrecv\r\n")


class Relay:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.proc: subprocess.Popen | None = None
        self.log = None

    def start(self, calls: int, phone_port: int) -> list[int]:
        if self.kind == "wpbx":
            self.proc = subprocess.Popen([sys.executable, __file__, "--child", str(calls), str(phone_port)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         preexec_fn=_pin(RELAY_CPU))
            return [int(p) for p in self.proc.stdout.readline().split()]
        ng_port = _free_udp_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            ["rtpengine", "--table=-1", f"--interface={HOST}", f"--listen-ng={HOST}:{ng_port}",
             "--foreground", "--log-stderr", "--log-level=4", "--num-threads=1",
             f"--port-min={RTP_RANGE[0]}", f"--port-max={RTP_RANGE[1]}", "--config-file=none"],
            stdout=self.log, stderr=self.log, preexec_fn=_pin(RELAY_CPU))
        ng = NgClient(ng_port)
        for _ in range(50):
            try:
                ng.call(command="ping")
                break
            except (TimeoutError, OSError):
                time.sleep(0.1)
        ports: list[int] = []
        for i in range(calls):
            call_id = f"bench-{i}"
            offer = ng.call(command="offer", **{"call-id": call_id, "from-tag": "a"},
                            sdp=_sdp(phone_port, 2 * i, "G729"), flags=["trust-address"],
                            replace=["origin", "session-connection"], ICE="remove",
                            codec={"transcode": ["PCMA"]})
            answer = ng.call(command="answer", **{"call-id": call_id, "from-tag": "a", "to-tag": "b"},
                             sdp=_sdp(phone_port, 2 * i + 1, "PCMA"), flags=["trust-address"],
                             replace=["origin", "session-connection"], ICE="remove")
            to_b = SessionDescription.parse(offer["sdp"]).media[0].port
            to_a = SessionDescription.parse(answer["sdp"]).media[0].port
            ports += [to_a, to_b]
        return ports

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.kind == "rtpengine":
            self.proc.send_signal(signal.SIGTERM)
        else:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the load generator (its own process) ------------------------------------------------------


def _generator(calls: int, seconds: float, relay_ports: list[int], sock: socket.socket) -> dict:
    g729, pcma = _g729_payload(), _pcma_payload()
    # endpoint k: side a of call k//2 when even (sends G.729, hears PCMA turned into G.729),
    # side b when odd (sends PCMA). rtpengine renumbers SSRC and sequence, so what comes
    # back is matched by order: the n-th packet that reaches endpoint k is the n-th that
    # its peer (k ^ 1) sent; it arrives from the relay port endpoint k sends to.
    senders = [rtp.RtpSender(ssrc=0x10000 + k) for k in range(2 * calls)]
    payloads = [(18, g729) if k % 2 == 0 else (8, pcma) for k in range(2 * calls)]
    expect = [12 + 20 if k % 2 == 0 else 12 + 160 for k in range(2 * calls)]
    endpoint_of = {port: k for k, port in enumerate(relay_ports)}
    sent_times: list[list[float]] = [[] for _ in range(2 * calls)]
    got = [0] * (2 * calls)
    stats = {"sent": 0, "received": 0, "late": 0, "bad_size": 0, "max_us": 0.0, "max_send_lag_us": 0.0}
    delays: list[float] = []
    targets = [(HOST, p) for p in relay_ports]
    clock = time.monotonic

    def drain() -> None:
        while True:
            try:
                data, src = sock.recvfrom(2048)
            except BlockingIOError:
                return
            now = clock()
            k = endpoint_of.get(src[1])
            if k is None:
                continue
            sent = sent_times[k ^ 1]
            n = got[k]
            if n >= len(sent):
                continue
            got[k] = n + 1
            stats["received"] += 1
            if len(data) != expect[k]:
                stats["bad_size"] += 1
            us = (now - sent[n]) * 1e6
            delays.append(us)
            stats["max_us"] = max(stats["max_us"], us)

    start = clock()
    periods = int(seconds / PERIOD)
    slot = PERIOD / (2 * calls)
    for period in range(periods):
        for k in range(2 * calls):
            due = start + period * PERIOD + k * slot
            now = clock()
            if due - now > 0.0005:
                time.sleep(due - now)
            else:
                stats["max_send_lag_us"] = max(stats["max_send_lag_us"], (now - due) * 1e6)
            pt, payload = payloads[k]
            sent_times[k].append(clock())
            sock.sendto(senders[k].packet(pt, payload, 160), targets[k])
            stats["sent"] += 1
            drain()
    end = clock() + DRAIN
    while clock() < end:
        time.sleep(0.01)
        drain()
    delays.sort()
    if delays:
        # Late = queued behind the relay's own steady delay: more than LATE_US above the
        # step's 5th percentile (rtpengine paces what it encodes, adding a constant delay).
        floor = delays[len(delays) // 20]
        stats["floor_us"] = floor
        stats["late"] = sum(1 for d in delays if d > floor + LATE_US)
        stats["p99_us"] = delays[min(len(delays) - 1, len(delays) * 99 // 100)]
    stats["median_us"] = delays[len(delays) // 2] if delays else 0.0
    return stats


def _generator_main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    calls, seconds = sys.stdin.readline().split()
    print(sock.getsockname()[1], flush=True)
    ports = [int(p) for p in sys.stdin.readline().split()]
    print(json.dumps(_generator(int(calls), float(seconds), ports, sock)), flush=True)


def run_step(kind: str, calls: int, seconds: float) -> dict:
    gen = subprocess.Popen([sys.executable, __file__, "--generator"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, preexec_fn=_pin(LOAD_CPU))
    relay = Relay(kind)
    try:
        gen.stdin.write(f"{calls} {seconds}\n")
        gen.stdin.flush()
        phone_port = int(gen.stdout.readline())
        ports = relay.start(calls, phone_port)
        if len(ports) != 2 * calls:
            raise RuntimeError(f"{kind}: set up {len(ports) // 2} of {calls} calls")
        cpu0, wall0 = _cpu_seconds(relay.proc.pid), time.monotonic()
        gen.stdin.write(" ".join(map(str, ports)) + "\n")
        gen.stdin.flush()
        result = json.loads(gen.stdout.readline())
        cpu = _cpu_seconds(relay.proc.pid) - cpu0
        wall = time.monotonic() - wall0
    finally:
        gen.stdin.close()
        gen.wait()
        relay.stop()
    lost = result["sent"] - result["received"]
    result.update(calls=calls, lost=lost, cpu_percent=100.0 * cpu / wall,
                  us_per_packet=1e6 * cpu / max(result["received"], 1),
                  clean=lost == 0 and result["late"] == 0 and result["bad_size"] == 0,
                  generator_bound=result["max_send_lag_us"] > LATE_US,
                  projected=calls * 100.0 / max(100.0 * cpu / wall, 0.1))
    return result


# --- the computed codec-only anchor -------------------------------------------------------------


def codec_bound() -> dict:
    """Calls/core if all a transcoder did were G.729 encode+decode (no relay, no G.711)."""
    from bench.codec import _bcg729_helper, _speech
    from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder
    pcm = _speech()
    frames = len(pcm) // 160
    out: dict[str, float] = {}
    with G729Encoder() as enc, G729Decoder() as dec:
        t = time.process_time()
        bits = enc.encode(pcm)
        t_enc = time.process_time() - t
        t = time.process_time()
        dec.decode(bits)
        t_dec = time.process_time() - t
    out["wpbx_codec_us_per_frame"] = 1e6 * (t_enc + t_dec) / frames
    try:
        ffi, lib = _bcg729_helper()
    except Exception as exc:  # noqa: BLE001 - any build failure just drops this anchor
        out["bcg729_error"] = str(exc)
        return out
    bbits = ffi.new("uint8_t[]", frames * 10)
    bback = ffi.new("int16_t[]", frames * 80)
    t = time.process_time()
    lib.bcg_encode_all(ffi.from_buffer("int16_t[]", pcm), frames, bbits)
    t_enc = time.process_time() - t
    t = time.process_time()
    lib.bcg_decode_all(bbits, frames, bback)
    t_dec = time.process_time() - t
    out["bcg729_us_per_frame"] = 1e6 * (t_enc + t_dec) / frames
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default=DEFAULT_STEPS)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--relays", default="wpbx,rtpengine")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        print("needs 2 CPUs (relay and generator pinned apart)")
        return 0
    steps = [int(s) for s in args.steps.split(",")]
    best: dict[str, int] = {}
    projected: dict[str, float] = {}
    print(f"transcoded calls (G.729 <-> PCMA, 20 ms), {args.seconds:g} s per step, "
          f"late: > {LATE_US / 1000:g} ms above the step's 5th-percentile delay")
    for kind in args.relays.split(","):
        if kind == "rtpengine" and shutil.which("rtpengine") is None:
            print(f"{kind:<10} not installed (Debian rtpengine-daemon); skipped")
            continue
        best[kind] = 0
        for calls in steps:
            r = run_step(kind, calls, args.seconds)
            if not r["clean"]:
                r = run_step(kind, calls, args.seconds)    # one retry: a neighbour's burst
            print(f"{kind:<10} {calls:5d} calls  cpu {r['cpu_percent']:5.1f}%  {r['us_per_packet']:6.1f} us/pkt  "
                  f"lost {r['lost']:5d}  late {r['late']:5d}  bad {r['bad_size']}  delay floor "
                  f"{r.get('floor_us', 0) / 1000:5.2f} median {r['median_us'] / 1000:5.2f} p99 "
                  f"{r.get('p99_us', 0) / 1000:6.1f} max {r['max_us'] / 1000:6.1f} ms  "
                  f"projected {r['projected']:5.0f} calls/core"
                  f"{'  (generator fell behind)' if r['generator_bound'] else ''}")
            projected[kind] = r["projected"]
            if not r["clean"]:
                break
            best[kind] = calls
    bound = codec_bound()
    print("\nresults (last clean step)")
    for kind, calls in best.items():
        print(f"  {kind:<10} {calls:5d} transcoded calls clean on one core (target >= 100); "
              f"CPU-projected {projected.get(kind, 0):.0f} calls at 100 % of a core")
    if best.get("wpbx") and best.get("rtpengine"):
        print(f"  ratio wpbx / rtpengine (clean calls): {best['wpbx'] / best['rtpengine']:.2f}")
    if projected.get("wpbx") and projected.get("rtpengine"):
        print(f"  ratio wpbx / rtpengine (CPU-projected): {projected['wpbx'] / projected['rtpengine']:.2f}")
    per_call = FRAMES_PER_CALL_SECOND
    ours = bound["wpbx_codec_us_per_frame"]
    print("computed codec-only bound (encode+decode time per frame x 100 frames/s per call; no relay work):")
    print(f"  wpbx G.729 codec   {ours:6.1f} us/frame -> {1e6 / (ours * per_call):6.0f} calls/core")
    if "bcg729_us_per_frame" in bound:
        theirs = bound["bcg729_us_per_frame"]
        print(f"  libbcg729          {theirs:6.1f} us/frame -> {1e6 / (theirs * per_call):6.0f} calls/core")
        print(f"  ratio codec cost bcg729 / wpbx: {theirs / ours:.2f} (above 1: our codec is faster)")
    else:
        print(f"  libbcg729 unavailable: {bound.get('bcg729_error')}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(_child_wpbx(int(sys.argv[2]), int(sys.argv[3])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--generator":
        _generator_main()
    else:
        sys.exit(main())
