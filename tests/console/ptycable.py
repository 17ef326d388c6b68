"""A serial cable for tests: a pty pair behind a stable symlink, typed into like a person.

The daemon opens ``path`` (a symlink to the pty's slave end); the test reads and
writes the master end. ``pull()`` closes the master (the daemon sees EIO, like a
pulled cable); ``plug()`` makes a fresh pty and points the symlink at it.
"""

import os
import re
import select
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

TYPING_DELAY = 0.005  # seconds between key presses
DEFAULT_WAIT = 20.0   # seconds to wait for expected output


class PtyEnd:
    """The master end of a pty: type into it, expect output from it."""

    master: int | None = None
    seen = b""

    def type(self, text: str, delay: float = TYPING_DELAY) -> None:
        assert self.master is not None
        for byte in text.encode():
            os.write(self.master, bytes([byte]))
            time.sleep(delay)

    def _read(self, timeout: float) -> bytes:
        assert self.master is not None
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master, 4096)
        except OSError:  # nobody holds the slave end yet
            time.sleep(min(timeout, 0.05))
            return b""

    def expect(self, pattern: str, timeout: float = DEFAULT_WAIT) -> re.Match:
        """Wait until ``pattern`` (regex) appears after what was already matched."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.seen)
            if match:
                self.seen = self.seen[match.end():]
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen within {timeout} s; got {self.seen[-600:]!r}")
            self.seen += self._read(min(left, 0.2))


class PtyCable(PtyEnd):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.plug()

    def plug(self) -> None:
        master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)  # the pty lives while its master is open
        os.set_blocking(master, False)
        tmp = self.path.with_name(self.path.name + ".new")
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(name, tmp)
        os.replace(tmp, self.path)
        self.master = master
        self.seen = b""

    def pull(self) -> None:
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def close(self) -> None:
        self.pull()
        if self.path.is_symlink():
            self.path.unlink()


class PtyProcess(PtyEnd):
    """A program (e.g. ``ssh -tt``) whose terminal is a pty we hold the master of."""

    def __init__(self, argv: Sequence[str], **popen: object) -> None:
        master, slave = os.openpty()
        self.proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, **popen)
        os.close(slave)
        os.set_blocking(master, False)
        self.master = master

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.master is not None:
            os.close(self.master)
            self.master = None
