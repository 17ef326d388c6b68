"""Boot the firmware image under QEMU (TCG) and talk to its serial port.

The guest gets four NICs (eth0–eth3 with ``net.ifnames=0``): eth0 on QEMU user
networking restricted to the guest (``restrict=on``) with only loopback ports
forwarded to the box's HTTPS (443) and SSH (22); eth1–eth3 on isolated user
networks. A second disk on a USB controller plays the USB key. The serial port is a
Unix socket the test reads and writes; every byte is kept in ``transcript``.
"""

import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.daemon_runner import free_port

QEMU = "qemu-system-x86_64"
MEMORY_MB = 1024
USB_KEY_MB = 64


@dataclass
class Vm:
    disk: Path
    workdir: Path
    https_port: int = field(default_factory=lambda: free_port(socket.SOCK_STREAM))
    ssh_port: int = field(default_factory=lambda: free_port(socket.SOCK_STREAM))
    proc: subprocess.Popen | None = None
    sock: socket.socket | None = None
    transcript: bytearray = field(default_factory=bytearray)
    seen: int = 0  # offset in transcript up to which expect() has consumed

    def start(self) -> "Vm":
        serial = self.workdir / "serial.sock"
        usb = self.workdir / "usbkey.img"
        with open(usb, "wb") as f:
            f.truncate(USB_KEY_MB * 1024 * 1024)
        wan = (f"user,id=wan,restrict=on,hostfwd=tcp:127.0.0.1:{self.https_port}-:443,"
               f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22")
        args = [
            QEMU, "-accel", "tcg", "-cpu", "max", "-m", str(MEMORY_MB), "-smp", "2",
            "-display", "none", "-monitor", "none",
            "-drive", f"file={self.disk},format=raw,if=virtio,snapshot=on",
            "-chardev", f"socket,id=ser0,path={serial},server=on,wait=on",
            "-serial", "chardev:ser0",
            "-netdev", wan, "-device", "virtio-net-pci,netdev=wan",
            "-device", "qemu-xhci,id=xhci",
            "-drive", f"if=none,id=usbkey,file={usb},format=raw",
            "-device", "usb-storage,bus=xhci.0,drive=usbkey",
        ]
        for n in (1, 2, 3):
            args += ["-netdev", f"user,id=lan{n},restrict=on", "-device", f"virtio-net-pci,netdev=lan{n}"]
        log = open(self.workdir / "qemu.log", "wb")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(str(serial))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("QEMU did not open its serial socket:\n"
                                       + (self.workdir / "qemu.log").read_text(errors="replace")) from None
                time.sleep(0.1)
        self.sock.settimeout(0.5)
        return self

    def _pump(self) -> None:
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        if not data:
            raise EOFError("the serial line closed (the VM stopped)")
        self.transcript += data
        with open(self.workdir / "serial.log", "ab") as f:
            f.write(data)

    def expect(self, pattern: str, timeout: float) -> re.Match:
        """Wait for ``pattern`` (a regex over the text) after what was already matched."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.transcript[self.seen:].decode("utf-8", "replace")
            found = rx.search(text)
            if found:
                self.seen += len(text[:found.end()].encode("utf-8", "replace"))
                return found
            if time.monotonic() > deadline:
                tail = self.transcript[-3000:].decode("utf-8", "replace")
                raise AssertionError(f"serial: {pattern!r} not seen within {timeout:.0f} s; last output:\n{tail}")
            self._pump()

    def send(self, text: str) -> None:
        # type like a person: a byte at a time is not needed, but a line at a time is
        self.sock.sendall(text.encode())

    def stop(self) -> None:
        if self.sock:
            self.sock.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
