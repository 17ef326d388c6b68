"""The web Console's terminals: ``wpbx-console`` in a server-side pty, one per web session.

Responsible for: starting the console program on a pty (its controlling
terminal, so ^C reaches it), collecting its output as numbered chunks that page
threads read or wait for (Server-Sent Events), writing keystrokes to it, and
ending it — by its PID (the process group it leads) — when its web session ends
or goes idle, when no page has followed it for a while, on request, or when the
web layer stops.

It knows nothing of HTTP; it never starts a second terminal for a session and
never signals a process it did not start. Time is read from ``time.monotonic``
for the detach grace only; session liveness is asked of the caller's check.
"""

import atexit
import codecs
import fcntl
import logging
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROWS, COLUMNS = 24, 100  # terminal size given to the program
READ_CHUNK = 4096  # bytes per read of the pty
KEEP_CHUNKS = 400  # output chunks kept for a page that (re)connects
MAX_INPUT = 256  # characters of one keystroke request
REAP_INTERVAL = 1.0  # seconds between checks of the terminals' sessions
DETACH_GRACE = 15.0  # seconds a terminal lives with no page following it
TERM_WAIT = 2.0  # seconds between SIGTERM and SIGKILL
# Escape sequences the <pre> screen cannot show (CSI, OSC, two-byte ESC x).
ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


@dataclass(frozen=True)
class Chunk:
    seq: int
    text: str


def clean(text: str) -> str:
    """Output as the plain screen shows it: no escape sequences, ``\\r\\n`` as ``\\n``."""
    text = ESCAPES.sub("", text).replace("\r\n", "\n")
    return "".join(c for c in text if c in "\n\b\t" or c >= " ")


def screen(chunks: Sequence[Chunk]) -> str:
    """The text of a screen built from chunks (backspace removes the previous character)."""
    out: list[str] = []
    for chunk in chunks:
        for c in chunk.text:
            if c == "\b":
                if out and out[-1] != "\n":
                    out.pop()
            else:
                out.append(c)
    return "".join(out)


class Terminal:
    """One console program on a pty, with its output log."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        setsid = shutil.which("setsid")
        prefix = [setsid, "--ctty"] if setsid else []
        try:
            # Not a new session here: setsid(1) makes one without forking, so the PID is the program's.
            self.proc = subprocess.Popen([*prefix, *argv], stdin=slave, stdout=slave, stderr=slave,
                                         env=env, close_fds=True, start_new_session=not setsid)
        except OSError:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.pid = self.proc.pid
        self.master = master
        self._chunks: deque[Chunk] = deque(maxlen=KEEP_CHUNKS)
        self._seq = 0
        self._changed = threading.Condition()
        self.closed = False
        self.followers = 0
        self.detached_at = time.monotonic()
        self._reader = threading.Thread(target=self._read, name=f"console pty {self.pid}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            try:
                data = os.read(self.master, READ_CHUNK)
            except OSError:  # EIO: the program and its children closed the pty
                data = b""
            if not data:
                break
            self._append(clean(decoder.decode(data)))
        self._append("\n[console ended]\n")
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def _append(self, text: str) -> None:
        if not text:
            return
        with self._changed:
            self._seq += 1
            self._chunks.append(Chunk(self._seq, text))
            self._changed.notify_all()

    def since(self, seq: int) -> list[Chunk]:
        with self._changed:
            return [c for c in self._chunks if c.seq > seq]

    def wait(self, seq: int, timeout: float) -> list[Chunk]:
        """Chunks after ``seq``, waiting up to ``timeout`` seconds for the first one."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > seq or self.closed, timeout)
            return [c for c in self._chunks if c.seq > seq]

    @property
    def last(self) -> int:
        with self._changed:
            return self._seq

    def send(self, text: str) -> None:
        if self.closed:
            return
        data = text[:MAX_INPUT].encode("utf-8")
        try:
            os.write(self.master, data)
        except OSError as err:
            log.warning("console pty %d: cannot write: %s", self.pid, err)

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.closed

    def stop(self) -> None:
        """End the program and everything it started (its process group), by its PID."""
        if self.proc.poll() is None:
            for sig in (signal.SIGHUP, signal.SIGTERM):
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    break
            try:
                self.proc.wait(TERM_WAIT)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        try:
            os.close(self.master)
        except OSError:
            pass
        with self._changed:
            self.closed = True
            self._changed.notify_all()


class Consoles:
    """The terminals of the web UI, one per web session (keyed by the session's hash)."""

    def __init__(self, data_dir: Path, session_alive: Callable[[str], bool]) -> None:
        self.data_dir = data_dir
        self.session_alive = session_alive
        self._terms: dict[str, Terminal] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None
        self._stopping = threading.Event()
        atexit.register(self.stop_all)

    def get(self, key: str) -> Terminal | None:
        with self._lock:
            term = self._terms.get(key)
        return term if term is not None and term.alive() else None

    def open(self, key: str, mode: str) -> Terminal:
        """The session's terminal, started if it has none (or its program ended)."""
        with self._lock:
            term = self._terms.get(key)
            if term is not None and term.alive():
                return term
            if term is not None:
                term.stop()
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "USER",
                                                                  "PYTHONPATH", "VIRTUAL_ENV")}
            env.update(TERM="dumb", COLUMNS=str(COLUMNS), LINES=str(ROWS), WPBX_DATA=str(self.data_dir))
            argv = [sys.executable, "-m", "wpbxd.console.menu", "--data", str(self.data_dir), "--mode", mode]
            term = self._terms[key] = Terminal(argv, env)
            log.info("web console: started pid %d", term.pid)
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, name="web console reaper", daemon=True)
                self._reaper.start()
            return term

    def close(self, key: str) -> bool:
        with self._lock:
            term = self._terms.pop(key, None)
        if term is None:
            return False
        term.stop()
        log.info("web console: ended pid %d", term.pid)
        return True

    def pids(self) -> list[int]:
        with self._lock:
            return [t.pid for t in self._terms.values()]

    def _reap(self) -> None:
        while not self._stopping.wait(REAP_INTERVAL):
            with self._lock:
                items = list(self._terms.items())
            for key, term in items:
                try:
                    gone = (not term.alive() or not self.session_alive(key)
                            or (term.followers == 0 and time.monotonic() - term.detached_at > DETACH_GRACE))
                except Exception:
                    log.exception("web console: cannot check its session")
                    gone = False
                if gone:
                    self.close(key)

    def stop_all(self) -> None:
        self._stopping.set()
        with self._lock:
            keys = list(self._terms)
        for key in keys:
            self.close(key)
