"""How many relayed G.711 calls one core carries, for wpbx's RTP relay and anchors.

A call is one relayed stream with two directions, 50 packets/s each way, 172-byte
RTP packets (12-byte header + 160 bytes of 20 ms G.711). A load generator written
in C (compiled here from the source below; pinned to CPU 1) plays both phones of
every call from one socket (batched with sendmmsg/recvmmsg so that it stays
cheaper than the relay it loads; the relay's work per packet is the same), spreads the sends evenly over each 20 ms period, stamps each packet
with its send time and checks what comes back: lost, reordered, and late packets
(one-way latency through the relay above ``LATE_US``). The relay under test runs
alone on CPU 0. The call count is stepped up until a step loses or delays a
packet; the last clean step is the figure. CPU is read from ``/proc/PID/stat``
(utime + stime) of the relay process, so "µs per packet" = relay CPU time ÷
packets relayed.

Relays measured, in the same run:
  wpbx          wpbxd.telephony.media.relay.RtpRelay (add_reader + recvfrom_into)
  rtpengine     Debian's rtpengine in userspace mode (--table=-1, one worker
                thread), driven with its ng control protocol (offer/answer)
  c-forwarder   a minimal C epoll recvfrom/sendto forwarder (the kernel-cost floor)
  asyncio-dgram stock asyncio DatagramProtocol forwarding (what wpbx avoids)

Run: .venv/bin/python bench/media_relay.py [--steps 250,500,...] [--seconds 4]
Needs a C compiler (cc) for the generator; rtpengine is skipped when absent.
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wpbxd.telephony.media.relay import PortAllocator, RtpRelay  # noqa: E402
from wpbxd.telephony.media.sdp import SessionDescription  # noqa: E402

HOST = "127.0.0.1"
PACKET_BYTES = 172          # 12 RTP header + 160 G.711 payload (20 ms at 8 kHz)
PACKETS_PER_SECOND = 50     # per direction (20 ms ptime)
LATE_US = 40_000            # two packet intervals (the smallest usual jitter buffer): later is late
RELAY_CPU = 0               # the relay under test runs on this CPU alone
LOAD_CPU = 1                # the generator's CPU
RTP_RANGE = (30000, 59999)  # ports the relays may use
DEFAULT_STEPS = "250,500,600,700,800,900,1000,1250,1500"
CLK_TCK = os.sysconf("SC_CLK_TCK")

GENERATOR_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* All phones share one socket (the relay does not care that remotes coincide) so
   the generator can batch with sendmmsg/recvmmsg and stay cheaper than the relay.
   Endpoint k (A of call k/2 when k is even, B when odd) sends with SSRC 0x10000+k. */
#define PKT 172
#define PERIOD_NS 20000000LL
#define DRAIN_NS 400000000LL
#define MIN_SLEEP_NS 200000LL
#define BUCKET_NS 10000LL
#define NBUCKETS 20000
#define BATCH 64
#define SOCKBUF (16 * 1024 * 1024)

static int64_t now_ns(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
    int ncalls, seconds_ms, late_us;
    if (scanf("%d %d %d", &ncalls, &seconds_ms, &late_us) != 3) return 2;
    int n = 2 * ncalls;
    struct sockaddr_in *dst = calloc(n, sizeof(struct sockaddr_in));
    uint16_t *seq_tx = calloc(n, sizeof(uint16_t)), *seq_rx = calloc(n, sizeof(uint16_t));
    char *seen = calloc(n, 1);
    int64_t *hist = calloc(NBUCKETS + 1, sizeof(int64_t));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int size = SOCKBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    socklen_t l = sizeof a; getsockname(fd, (struct sockaddr *)&a, &l);
    printf("%d\n", ntohs(a.sin_port)); fflush(stdout);
    for (int i = 0; i < n; i++) {
        int port; if (scanf("%d", &port) != 1) return 2;
        dst[i].sin_family = AF_INET; dst[i].sin_port = htons(port);
        inet_pton(AF_INET, "127.0.0.1", &dst[i].sin_addr);
    }
    static unsigned char tx[BATCH][PKT], rx[BATCH][2048];
    struct mmsghdr tmsg[BATCH], rmsg[BATCH];
    struct iovec tiov[BATCH], riov[BATCH];
    memset(tmsg, 0, sizeof tmsg); memset(rmsg, 0, sizeof rmsg);
    for (int i = 0; i < BATCH; i++) {
        memset(tx[i], 0xd5, PKT);
        tiov[i].iov_base = tx[i]; tiov[i].iov_len = PKT;
        tmsg[i].msg_hdr.msg_iov = &tiov[i]; tmsg[i].msg_hdr.msg_iovlen = 1;
        tmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
        riov[i].iov_base = rx[i]; riov[i].iov_len = sizeof rx[i];
        rmsg[i].msg_hdr.msg_iov = &riov[i]; rmsg[i].msg_hdr.msg_iovlen = 1;
    }
    int64_t t0 = now_ns() + 50000000LL, t_end = t0 + (int64_t)seconds_ms * 1000000LL;
    int64_t sent = 0, received = 0, late = 0, reordered = 0, max_lag = 0, max_lat = 0, send_err = 0, bad = 0;
    int64_t count = 0;                       /* sends so far, round robin over endpoints */
    for (;;) {
        int64_t now = now_ns();
        if (now >= t_end + DRAIN_NS) break;
        while (now < t_end) {
            int nb = 0;
            while (nb < BATCH) {
                int64_t due = t0 + count * PERIOD_NS / n;
                if (due > now) break;
                int k = (int)(count % n);
                if (now - due > max_lag) max_lag = now - due;
                unsigned char *p = tx[nb];
                p[0] = 0x80; p[1] = 0; p[2] = seq_tx[k] >> 8; p[3] = seq_tx[k] & 0xff;
                uint32_t ssrc = htonl(0x10000u + (uint32_t)k); memcpy(p + 8, &ssrc, 4);
                seq_tx[k]++;
                tmsg[nb].msg_hdr.msg_name = &dst[k];
                nb++; count++;
            }
            if (nb == 0) break;
            int64_t ts = now_ns();
            for (int i = 0; i < nb; i++) memcpy(tx[i] + 12, &ts, 8);
            int done = 0;
            while (done < nb) {
                int r = sendmmsg(fd, tmsg + done, nb - done, 0);
                if (r <= 0) { send_err += nb - done; break; }
                done += r;
            }
            sent += done;
            now = now_ns();
        }
        for (;;) {
            int r = recvmmsg(fd, rmsg, BATCH, MSG_DONTWAIT, NULL);
            if (r <= 0) break;
            int64_t t = now_ns();
            for (int i = 0; i < r; i++) {
                unsigned char *p = rx[i];
                if (rmsg[i].msg_len != PKT) { bad++; continue; }
                uint32_t ssrc; memcpy(&ssrc, p + 8, 4); ssrc = ntohl(ssrc) - 0x10000u;
                if (ssrc >= (uint32_t)n) { bad++; continue; }
                int64_t ts; memcpy(&ts, p + 12, 8);
                int64_t lat = t - ts;
                if (lat > max_lat) max_lat = lat;
                if (lat > (int64_t)late_us * 1000) late++;
                int64_t b = lat / BUCKET_NS; if (b > NBUCKETS) b = NBUCKETS; hist[b]++;
                uint16_t seq = (uint16_t)((p[2] << 8) | p[3]);
                if (seen[ssrc] && seq != seq_rx[ssrc]) reordered++;
                seen[ssrc] = 1; seq_rx[ssrc] = (uint16_t)(seq + 1);
                received++;
            }
        }
        now = now_ns();
        int64_t wait = (now < t_end ? t0 + count * PERIOD_NS / n : now + 1000000LL) - now;
        if (wait < MIN_SLEEP_NS) wait = MIN_SLEEP_NS;
        struct timespec to = {.tv_sec = 0, .tv_nsec = wait};
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ppoll(&pfd, 1, &to, NULL);
    }
    int64_t acc = 0, p50 = -1, p99 = -1;
    for (int b = 0; b <= NBUCKETS; b++) {
        acc += hist[b];
        if (p50 < 0 && acc * 2 >= received) p50 = b * BUCKET_NS / 1000;
        if (p99 < 0 && acc * 100 >= received * 99) p99 = b * BUCKET_NS / 1000;
    }
    printf("{\"sent\": %lld, \"received\": %lld, \"late\": %lld, \"reordered\": %lld, "
           "\"send_errors\": %lld, \"bad\": %lld, \"p50_us\": %lld, \"p99_us\": %lld, \"max_us\": %lld, "
           "\"max_send_lag_us\": %lld}\n",
           (long long)sent, (long long)received, (long long)late, (long long)reordered,
           (long long)send_err, (long long)bad, (long long)p50, (long long)p99,
           (long long)(max_lat / 1000), (long long)(max_lag / 1000));
    return 0;
}
"""

FORWARDER_C = r"""
#define _GNU_SOURCE
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Minimal anchor: socket i receives and sends out of socket i^1 to fixed address i^1. */
int main(void) {
    int ncalls; if (scanf("%d", &ncalls) != 1) return 2;
    struct rlimit rl; getrlimit(RLIMIT_NOFILE, &rl); rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl);
    int n = 2 * ncalls;
    int *fd = calloc(n, sizeof(int));
    struct sockaddr_in *dst = calloc(n, sizeof(struct sockaddr_in));
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        int port; if (scanf("%d", &port) != 1) return 2;
        dst[i].sin_family = AF_INET; dst[i].sin_port = htons(port);
        inet_pton(AF_INET, "127.0.0.1", &dst[i].sin_addr);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (fd[i] < 0 || bind(fd[i], (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
        socklen_t l = sizeof a; getsockname(fd[i], (struct sockaddr *)&a, &l);
        printf("%d%c", ntohs(a.sin_port), i + 1 == n ? '\n' : ' ');
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
    }
    fflush(stdout);
    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = 0xffffffffu};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
    unsigned char buf[2048];
    struct epoll_event evs[256];
    for (;;) {
        int ne = epoll_wait(ep, evs, 256, -1);
        for (int e = 0; e < ne; e++) {
            uint32_t k = evs[e].data.u32;
            if (k == 0xffffffffu) return 0;  /* stdin closed: stop */
            for (;;) {
                struct sockaddr_in src; socklen_t sl = sizeof src;
                ssize_t r = recvfrom(fd[k], buf, sizeof buf, 0, (struct sockaddr *)&src, &sl);
                if (r < 0) break;
                uint32_t o = k ^ 1u;
                sendto(fd[o], buf, (size_t)r, 0, (struct sockaddr *)&dst[o], sizeof dst[o]);
            }
        }
    }
}
"""


# --- relay children (run in their own process, pinned to RELAY_CPU) -----------------------


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _child_wpbx(phone_ports: list[int]) -> dict:
    relay = RtpRelay(PortAllocator(*RTP_RANGE), HOST)
    streams = []
    for i in range(0, len(phone_ports), 2):
        stream = relay.open_stream()
        stream.set_remote("a", HOST, phone_ports[i])
        stream.set_remote("b", HOST, phone_ports[i + 1])
        streams.append(stream)
    print(" ".join(f"{s.a.local_port} {s.b.local_port}" for s in streams), flush=True)
    await _wait_stdin_eof()
    relayed = sum(s.stats()["a_to_b"]["packets"] + s.stats()["b_to_a"]["packets"] for s in streams)
    relay.close()
    return {"relayed": relayed}


async def _child_asyncio_dgram(phone_ports: list[int]) -> dict:
    loop = asyncio.get_running_loop()
    counter = [0]

    class Forward(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.transport: asyncio.DatagramTransport | None = None
            self.peer: Forward | None = None
            self.remote: tuple = ()

        def connection_made(self, transport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple) -> None:
            counter[0] += 1
            self.peer.transport.sendto(data, self.peer.remote)

    sides = []
    for port in phone_ports:
        _, proto = await loop.create_datagram_endpoint(Forward, local_addr=(HOST, 0))
        proto.remote = (HOST, port)
        sides.append(proto)
    for i in range(0, len(sides), 2):
        sides[i].peer, sides[i + 1].peer = sides[i + 1], sides[i]
    print(" ".join(str(p.transport.get_extra_info("sockname")[1]) for p in sides), flush=True)
    await _wait_stdin_eof()
    return {"relayed": counter[0]}


async def _wait_stdin_eof() -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: done.done() or (
        not os.read(sys.stdin.fileno(), 4096) and done.set_result(None)))
    await done
    loop.remove_reader(sys.stdin.fileno())


def child_main(kind: str) -> None:
    _raise_fd_limit()
    phone_ports = [int(p) for p in sys.stdin.readline().split()]
    runner = {"wpbx": _child_wpbx, "asyncio-dgram": _child_asyncio_dgram}[kind]
    result = asyncio.run(runner(phone_ports))
    print(json.dumps(result), flush=True)


# --- rtpengine's ng control protocol (bencode over UDP) ------------------------------------


def bencode(value) -> bytes:
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(value.items())) + b"e"
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, int):
        return b"i%de" % value
    data = value.encode() if isinstance(value, str) else value
    return b"%d:%s" % (len(data), data)


def bdecode(data: bytes, i: int = 0):
    kind = data[i:i + 1]
    if kind == b"d" or kind == b"l":
        i += 1
        items = []
        while data[i:i + 1] != b"e":
            item, i = bdecode(data, i)
            items.append(item)
        if kind == b"l":
            return items, i + 1
        return {items[j].decode(): items[j + 1] for j in range(0, len(items), 2)}, i + 1
    if kind == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    colon = data.index(b":", i)
    length = int(data[i:colon])
    return data[colon + 1:colon + 1 + length], colon + 1 + length


class NgClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5.0)
        self.addr = (HOST, port)
        self.serial = 0

    def call(self, **message) -> dict:
        self.serial += 1
        cookie = b"c%d " % self.serial
        self.sock.sendto(cookie + bencode(message), self.addr)
        while True:
            reply = self.sock.recv(65536)
            if reply.startswith(cookie):
                result, _ = bdecode(reply[len(cookie):])
                if result.get("result") not in (b"ok", b"pong"):
                    raise RuntimeError(f"rtpengine {message['command']}: {result}")
                return result


def _phone_sdp(port: int, session: int) -> str:
    return (f"v=0\r\no=- {session} 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")


# --- orchestration -------------------------------------------------------------------------


NICE = -10  # relay and generator alike: keeps other work on a shared machine from skewing steps
REALTIME = False  # --realtime: SCHED_FIFO instead (quieter figures, but starves neighbours)
REALTIME_PRIORITY = 10


def _pin(cpu: int):
    def setup() -> None:
        os.sched_setaffinity(0, {cpu})
        try:
            if REALTIME:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
            else:
                os.setpriority(os.PRIO_PROCESS, 0, NICE)
        except PermissionError:
            pass  # not root: run at normal priority

    return setup


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Relay:
    """A relay under test: ``start(phone_ports) -> relay ports``, ``pid``, ``stop()``."""

    def __init__(self, kind: str, tools: dict[str, Path]) -> None:
        self.kind = kind
        self.tools = tools
        self.proc: subprocess.Popen | None = None
        self.ng: NgClient | None = None

    def start(self, phone_ports: list[int]) -> list[int]:
        if self.kind in ("wpbx", "asyncio-dgram"):
            self.proc = subprocess.Popen(
                [sys.executable, __file__, "--child", self.kind], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, preexec_fn=_pin(RELAY_CPU))
            self.proc.stdin.write(" ".join(map(str, phone_ports)) + "\n")
            self.proc.stdin.flush()
            return [int(p) for p in self.proc.stdout.readline().split()]
        if self.kind == "c-forwarder":
            self.proc = subprocess.Popen(
                [str(self.tools["forwarder"])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, preexec_fn=_pin(RELAY_CPU))
            self.proc.stdin.write(f"{len(phone_ports) // 2} {' '.join(map(str, phone_ports))}\n")
            self.proc.stdin.flush()
            return [int(p) for p in self.proc.stdout.readline().split()]
        return self._start_rtpengine(phone_ports)

    def _start_rtpengine(self, phone_ports: list[int]) -> list[int]:
        ng_port = _free_udp_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            ["rtpengine", "--table=-1", f"--interface={HOST}", f"--listen-ng={HOST}:{ng_port}",
             "--foreground", "--log-stderr", "--log-level=4", "--num-threads=1",
             f"--port-min={RTP_RANGE[0]}", f"--port-max={RTP_RANGE[1]}", "--config-file=none"],
            stdout=self.log, stderr=self.log, preexec_fn=_pin(RELAY_CPU))
        self.ng = NgClient(ng_port)
        for _ in range(50):
            try:
                self.ng.call(command="ping")
                break
            except (TimeoutError, OSError):
                time.sleep(0.1)
        relay_ports: list[int] = []
        for i in range(0, len(phone_ports), 2):
            call_id = f"bench-{i}"
            offer = self.ng.call(command="offer", **{"call-id": call_id, "from-tag": "a"},
                                 sdp=_phone_sdp(phone_ports[i], i), flags=["trust-address"],
                                 replace=["origin", "session-connection"], ICE="remove")
            answer = self.ng.call(command="answer",
                                  **{"call-id": call_id, "from-tag": "a", "to-tag": "b"},
                                  sdp=_phone_sdp(phone_ports[i + 1], i + 1), flags=["trust-address"],
                                  replace=["origin", "session-connection"], ICE="remove")
            # The offer went to b: b sends to the port in it. The answer went to a.
            to_b = SessionDescription.parse(offer["sdp"]).media[0].port
            to_a = SessionDescription.parse(answer["sdp"]).media[0].port
            relay_ports += [to_a, to_b]
        return relay_ports

    @property
    def pid(self) -> int:
        return self.proc.pid

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


def run_step(kind: str, calls: int, seconds: float, tools: dict[str, Path]) -> dict:
    gen = subprocess.Popen([str(tools["generator"])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True, preexec_fn=_pin(LOAD_CPU))
    relay = Relay(kind, tools)
    try:
        gen.stdin.write(f"{calls} {int(seconds * 1000)} {LATE_US}\n")
        gen.stdin.flush()
        phone_ports = [int(gen.stdout.readline())] * (2 * calls)
        relay_ports = relay.start(phone_ports)
        if len(relay_ports) != 2 * calls:
            raise RuntimeError(f"{kind}: relay set up {len(relay_ports) // 2} of {calls} calls")
        cpu_before, wall_before = _cpu_seconds(relay.pid), time.monotonic()
        gen.stdin.write(" ".join(map(str, relay_ports)) + "\n")
        gen.stdin.flush()
        result = json.loads(gen.stdout.readline())
        gen_cpu = _cpu_seconds(gen.pid)  # a zombie's stat still holds its times until waited for
        cpu = _cpu_seconds(relay.pid) - cpu_before
        wall = time.monotonic() - wall_before
    finally:
        gen.stdin.close()
        gen.wait()
        relay.stop()
    lost = result["sent"] - result["received"]
    result.update(
        calls=calls, lost=lost, cpu_percent=100.0 * cpu / wall,
        generator_cpu_percent=100.0 * gen_cpu / wall,
        us_per_packet=1e6 * cpu / max(result["received"], 1),
        clean=lost == 0 and result["late"] == 0 and result["reordered"] == 0,
        generator_bound=result["max_send_lag_us"] > LATE_US,
    )
    return result


def _compile(tmp: Path) -> dict[str, Path] | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    tools = {}
    for name, source in (("generator", GENERATOR_C), ("forwarder", FORWARDER_C)):
        src = tmp / f"{name}.c"
        src.write_text(source)
        subprocess.run([cc, "-O2", "-Wall", "-o", str(tmp / name), str(src)], check=True)
        tools[name] = tmp / name
    return tools


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--steps", default=DEFAULT_STEPS, help="call counts to try, in order")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each step")
    parser.add_argument("--relays", default="wpbx,rtpengine,c-forwarder,asyncio-dgram")
    parser.add_argument("--realtime", action="store_true",
                        help="run relay and generator SCHED_FIFO (only on a machine of your own)")
    args = parser.parse_args()
    global REALTIME
    REALTIME = args.realtime
    if args.child:
        child_main(args.child)
        return 0
    if len(os.sched_getaffinity(0)) < 2:
        print("media_relay: needs 2 CPUs (relay on one, load generator on the other)")
        return 0
    _raise_fd_limit()
    steps = [int(s) for s in args.steps.split(",")]
    with tempfile.TemporaryDirectory() as tmpdir:
        tools = _compile(Path(tmpdir))
        if tools is None:
            print("media_relay: no C compiler (cc) for the load generator; skipped")
            return 0
        print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}; "
              f"{args.seconds:g} s per step; {PACKETS_PER_SECOND} pkt/s per direction, "
              f"{PACKET_BYTES}-byte packets; late = one-way > {LATE_US // 1000} ms")
        print(f"{'relay':<14}{'calls':>6}{'pkt/s':>8}{'CPU%':>7}{'µs/pkt':>8}{'lost':>6}{'late':>6}"
              f"{'reord':>6}{'p50µs':>7}{'p99µs':>7}{'maxµs':>7}{'genCPU%':>8}  verdict")
        results: dict[str, dict[int, dict]] = {}
        best: dict[str, dict] = {}
        for kind in args.relays.split(","):
            if kind == "rtpengine" and shutil.which("rtpengine") is None:
                print(f"{kind:<14}not installed (Debian rtpengine-daemon); skipped")
                continue
            for calls in steps:
                r = run_step(kind, calls, args.seconds, tools)
                retried = False
                if not r["clean"]:  # one retry: a shared machine has hiccups of its own
                    retried = True
                    r = run_step(kind, calls, args.seconds, tools)
                verdict = ("ok" if r["clean"] else "FAIL") + (" (2nd try)" if retried else "")
                if r["generator_bound"]:
                    verdict += " (generator fell behind: result bounded by the load generator)"
                print(f"{kind:<14}{calls:>6}{r['received'] / args.seconds:>8.0f}"
                      f"{r['cpu_percent']:>7.1f}{r['us_per_packet']:>8.2f}{r['lost']:>6}"
                      f"{r['late']:>6}{r['reordered']:>6}{r['p50_us']:>7}{r['p99_us']:>7}"
                      f"{r['max_us']:>7}{r['generator_cpu_percent']:>8.0f}  {verdict}", flush=True)
                results.setdefault(kind, {})[calls] = r
                if not r["clean"] or r["generator_bound"]:
                    break
                best[kind] = r
        print()
        print("calls sustained on one core with no lost/late/reordered packet (last clean step):")
        for kind, r in best.items():
            projected = 1e6 / (r["us_per_packet"] * 2 * PACKETS_PER_SECOND)
            print(f"  {kind:<14}{r['calls']:>6} calls   {r['us_per_packet']:.2f} µs CPU per relayed "
                  f"packet at that load ({r['cpu_percent']:.0f}% of the core; "
                  f"{projected:.0f} calls at 100% of it at that cost)")
        floor = best.get("c-forwarder")
        if floor and "wpbx" in best and floor["calls"] <= best["wpbx"]["calls"]:
            print(f"  (the C forwarder, the kernel floor, stops at {floor['calls']} too: above it the "
                  f"limit is this machine and the load generator, not the relays)")
        if "wpbx" in best:
            ours = best["wpbx"]
            print("wpbx ÷ anchor (calls sustained; CPU µs per packet at the same call count):")
            for anchor in ("rtpengine", "c-forwarder", "asyncio-dgram"):
                if anchor not in results:
                    continue
                calls_ratio = (f"{ours['calls'] / best[anchor]['calls']:.2f}" if anchor in best
                               else "n/a (anchor failed its first step)")
                same = [c for c in results["wpbx"] if c in results[anchor]]
                per_step = ", ".join(
                    f"{c}: {results['wpbx'][c]['us_per_packet'] / results[anchor][c]['us_per_packet']:.2f}"
                    for c in same)
                print(f"  {anchor:<14} calls {calls_ratio}; µs/pkt by call count {per_step}")
        target = 500
        got = best.get("wpbx", {}).get("calls", 0)
        print(f"target >= {target} calls per core: {'met' if got >= target else 'NOT met'} ({got})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
