"""A real softphone: two baresip accounts register and call each other through the PBX.

baresip runs headless (TESTING-NOTES.md): ``ausine`` is the microphone, ``sndfile``
records what each side decodes, ``ctrl_tcp`` drives it. The test checks that the
callee decoded the caller's tone and that the packets went through the relay.
"""

import array
import json
import math
import os
import signal
import socket
import subprocess
import time
import wave
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.daemon_runner import free_port
from tests.sip.conftest import add_users, password_for

MODULES = "/usr/lib/baresip/modules"
TONE_RMS = 200          # a 440 Hz ausine tone decodes far above this; silence is ~0


class Baresip:
    def __init__(self, home: Path, ext: str, pbx_port: int, tone: int = 440, answermode: str = "auto") -> None:
        """``tone``: the microphone's sine (Hz); ``answermode``: ``auto`` or ``manual``.
        Both are in the config files before the process starts (it reads them once)."""
        self.home = home
        self.ext = ext
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        conf = home / ".baresip"
        conf.mkdir(parents=True)
        self.rec = home / "rec"
        self.rec.mkdir()
        (conf / "config").write_text(f"""poll_method epoll
sip_listen 127.0.0.1:{free_port()}
net_interface 127.0.0.1
audio_player aubridge,nil
audio_source ausine,{tone}
audio_alert aubridge,nil
ausrc_srate 48000
ausrc_channels 2
module_path {MODULES}
module g711.so
module ausine.so
module aubridge.so
module sndfile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}
snd_path {self.rec}
""")
        (conf / "accounts").write_text(
            f'<sip:{ext}@127.0.0.1:{pbx_port}>;auth_user={ext};auth_pass={password_for(ext)};'
            f'answermode={answermode};regint=600\n')
        (conf / "contacts").write_text("")
        self.log = open(home / "baresip.log", "wb")
        self.proc = subprocess.Popen(["baresip", "-4", "-f", str(conf)], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "HOME": str(home)})
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.events: list[dict] = []

    def connect(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"baresip ctrl_tcp did not come up:\n{self.output()}")

    def command(self, text: str) -> None:
        cmd, _, params = text.partition(" ")
        data = json.dumps({"command": cmd, "params": params, "token": cmd}).encode()
        assert self.sock is not None
        self.sock.sendall(str(len(data)).encode() + b":" + data + b",")

    def wait_event(self, kind: str, timeout: float = 10.0) -> dict:
        assert self.sock is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("type") == kind:
                    self.events.remove(event)
                    return event
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            self.buffer += chunk
            while b":" in self.buffer:
                length, _, rest = self.buffer.partition(b":")
                size = int(length)
                if len(rest) < size + 1:
                    break
                message = json.loads(rest[:size])
                self.buffer = rest[size + 1:]
                if message.get("event"):
                    self.events.append(message)
        raise AssertionError(f"baresip {self.ext}: no {kind} event; got {self.events}\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.home / "baresip.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.sock is not None:
            self.sock.close()
        self.log.close()


def _rms(path: Path) -> float:
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
        width = w.getsampwidth()
    if width != 2 or not frames:
        return 0.0
    samples = array.array("h", frames)
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def wait_registered(pbx, extensions: list[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        aors = {r["aor"] for r in pbx.call("registrations.list")}
        if set(extensions) <= aors:
            return
        time.sleep(0.1)
    raise AssertionError(f"not registered: {set(extensions) - aors}")


def test_baresip_calls_baresip_and_the_tone_arrives_through_the_relay(wpbxd, tmp_path):
    need_tool("baresip")
    if not Path(MODULES, "sndfile.so").exists():
        pytest.skip("baresip sndfile module missing")
    add_users(wpbxd, ["4001", "4002"])
    alice = Baresip(tmp_path / "alice", "4001", wpbxd.sip_port)
    bob = Baresip(tmp_path / "bob", "4002", wpbxd.sip_port)
    try:
        alice.connect()
        bob.connect()
        wait_registered(wpbxd, ["4001", "4002"])
        alice.command(f"dial sip:4002@127.0.0.1:{wpbxd.sip_port}")
        alice.wait_event("CALL_ESTABLISHED")
        bob.wait_event("CALL_ESTABLISHED")
        time.sleep(3)
        calls = wpbxd.call("calls.list")
        assert len(calls) == 1 and calls[0]["state"] == "answered"
        media = calls[0]["media"][0]
        assert media["a_to_b"]["packets"] > 50 and media["b_to_a"]["packets"] > 50, media
        alice.command("hangup")
        bob.wait_event("CALL_CLOSED")
    finally:
        alice.stop()
        bob.stop()
    decoded = sorted(bob.rec.glob("*dec*.wav"))
    assert decoded, f"bob recorded nothing: {list(bob.rec.iterdir())}"
    assert max(_rms(p) for p in decoded) > TONE_RMS, "bob decoded silence"
    deadline = time.monotonic() + 5
    while not (rows := wpbxd.call("cdr.list")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rows and rows[0]["disposition"] == "ANSWERED" and rows[0]["hangup_side"] == "caller"
    assert rows[0]["codec"] in ("PCMU", "PCMA")
