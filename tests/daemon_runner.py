"""Start a real ``wpbxd`` process for a test and talk to it (shared by all test areas)."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from wpbxd.console import client

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0  # seconds; generous: shared CI machines are noisy


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``host``."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def free_rtp_range(size: int = 200) -> tuple[int, int]:
    """A block of ports that is free right now (even start)."""
    for base in range(20000 + (os.getpid() % 200) * 200, 60000, 400):
        ok = True
        for p in range(base, base + size, 25):
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
                break
        if ok:
            return base, base + size - 1
    raise RuntimeError("no free RTP range")


def wait_for(predicate, timeout: float = 15.0, what: str = "condition", poll: float = 0.1):
    """Poll ``predicate`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def wait_until_ready(daemon, timeout: float = START_TIMEOUT, poll: float = 0.05) -> None:
    """Wait until a started wpbxd (``.proc``, ``.call``, ``.log``) answers ``status``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.proc.poll() is not None:
            raise RuntimeError(f"wpbxd exited with {daemon.proc.returncode}:\n{daemon.log()}")
        try:
            daemon.call("status")
            return
        except client.ControlError:
            time.sleep(poll)
    raise RuntimeError(f"wpbxd did not become ready:\n{daemon.log()}")


@dataclass
class Wpbxd:
    data_dir: Path
    sip_port: int
    web_port: int
    rtp: tuple[int, int]
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    def start(self) -> "Wpbxd":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "wpbxd.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wpbxd.daemon", "--data", str(self.data_dir),
             "--sip-listen", f"127.0.0.1:{self.sip_port}",
             "--web-listen", f"127.0.0.1:{self.web_port}",
             "--rtp-ports", f"{self.rtp[0]}-{self.rtp[1]}",
             "--console-tty", "none", "--log-level", "DEBUG", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        log.close()
        wait_until_ready(self)
        return self

    def call(self, cmd: str, args: dict | None = None):
        return client.request(self.data_dir, cmd, args)

    def ctl(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "wpbxd.console.wpbxctl", "--data", str(self.data_dir), *argv],
            capture_output=True, text=True, cwd=REPO, timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"wpbxctl {' '.join(argv)} failed: {result.stderr}")
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"wpbxd did not stop within {timeout} s:\n{self.log()}") from None
