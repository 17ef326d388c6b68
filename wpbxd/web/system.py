"""Readings of the machine for the Info page: CPU, memory, storage (Linux /proc).

Read-only; a reading that cannot be taken is ``None`` rather than an error.
"""

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Usage:
    used: float
    total: float

    @property
    def ratio(self) -> float:
        return self.used / self.total if self.total else 0.0


class CpuMeter:
    """CPU busy ratio between two successive readings of ``/proc/stat``."""

    def __init__(self, path: str = "/proc/stat") -> None:
        self.path = path
        self._last: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _read(self) -> tuple[int, int] | None:
        try:
            with open(self.path) as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    def ratio(self) -> float | None:
        """Busy ratio since the previous call; the load average on the first call."""
        now = self._read()
        with self._lock:
            last, self._last = self._last, now
        if now and last and now[0] > last[0]:
            total, idle = now[0] - last[0], now[1] - last[1]
            return max(0.0, min(1.0, 1 - idle / total))
        try:
            return min(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
        except OSError:
            return None


def memory(path: str = "/proc/meminfo") -> Usage | None:
    values: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                name, _, rest = line.partition(":")
                values[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    total = values.get("MemTotal", 0)
    available = values.get("MemAvailable", values.get("MemFree", 0))
    return Usage(total - available, total) if total else None


def storage(path: Path) -> Usage | None:
    try:
        du = shutil.disk_usage(path)
    except OSError:
        return None
    return Usage(du.used, du.total)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
