"""A "USB key" for tests: a loop device over an image file, which can be pulled and plugged.

``pull()`` makes the device vanish the way a pulled key does for the PBX: the
image becomes immutable (every write to the device fails with an I/O error) and
the loop device's size drops to 0 through LOOP_SET_STATUS64 (the kernel sends a
``change`` uevent with size 0). ``plug()`` attaches the same image again on the same
loop device and adds its partitions with ``partx -a`` (TESTING-NOTES: no ``-P`` here).
"""

import fcntl
import os
import struct
import subprocess
import time
from pathlib import Path

LOOP_GET_STATUS64, LOOP_SET_STATUS64 = 0x4C05, 0x4C04
LOOP_INFO64 = "QQQQQIIII64s64s32sQQ"  # struct loop_info64 (linux/loop.h)
LO_OFFSET_FIELD = 3


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


class LoopDisk:
    def __init__(self, image: Path, size_mb: int) -> None:
        self.image = image
        with open(image, "wb") as f:
            f.truncate(size_mb * 1024 * 1024)
        self.path = run("losetup", "-f", "--show", str(image))
        self.name = os.path.basename(self.path)

    def pull(self) -> None:
        run("chattr", "+i", str(self.image))
        fd = os.open(self.path, os.O_RDWR)
        try:
            buf = bytearray(struct.calcsize(LOOP_INFO64))
            fcntl.ioctl(fd, LOOP_GET_STATUS64, buf)
            fields = list(struct.unpack(LOOP_INFO64, buf))
            fields[LO_OFFSET_FIELD] = self.image.stat().st_size  # nothing left to see
            fcntl.ioctl(fd, LOOP_SET_STATUS64, struct.pack(LOOP_INFO64, *fields))
        finally:
            os.close(fd)

    def detach(self, timeout: float = 20.0) -> None:
        """Once nothing holds it any more: partitions and loop device gone."""
        deadline = time.monotonic() + timeout
        while True:
            result = subprocess.run(["partx", "-d", self.path], capture_output=True, text=True)
            if result.returncode == 0 or "no partition" in result.stderr.lower() or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        subprocess.run(["chattr", "-i", str(self.image)], capture_output=True)
        subprocess.run(["losetup", "-d", self.path], capture_output=True)
        while os.path.exists(f"/sys/block/{self.name}/loop/backing_file") and time.monotonic() < deadline:
            time.sleep(0.1)

    def plug(self) -> None:
        run("losetup", self.path, str(self.image))
        run("partx", "-a", self.path)

    def cleanup(self) -> None:
        subprocess.run(["chattr", "-i", str(self.image)], capture_output=True)
        for line in Path("/proc/self/mounts").read_text().splitlines():
            device, mountpoint = line.split()[:2]
            if device.startswith(self.path):
                subprocess.run(["umount", "-l", mountpoint], capture_output=True)
        subprocess.run(["partx", "-d", self.path], capture_output=True)
        subprocess.run(["losetup", "-d", self.path], capture_output=True)
