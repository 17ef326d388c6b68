"""The systemd watchdog keep-alive (``WatchdogSec=`` in rootfs/…/wpbxd.service).

When systemd asks for it (``WATCHDOG_USEC``, and ``WATCHDOG_PID`` naming us), send
``WATCHDOG=1`` to ``NOTIFY_SOCKET`` every half period *from the event loop*: a loop
that hangs stops the pings, and systemd restarts the daemon. Without those
variables (tests, a laptop) this service does nothing. It never decides anything
else about the daemon's health.
"""

import asyncio
import logging
import os
import socket
from typing import Any

from wpbxd.service import DaemonConfig, ServiceContext

log = logging.getLogger(__name__)

USEC = 1_000_000  # microseconds per second


def watchdog_interval(environ: dict[str, str] | os._Environ, pid: int) -> float | None:
    """Seconds between pings, or None when systemd does not watch this process."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    watched_pid = environ.get("WATCHDOG_PID")
    if usec <= 0 or (watched_pid and watched_pid != str(pid)):
        return None
    return usec / USEC / 2


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode())
        except OSError as err:
            log.warning("watchdog: cannot notify systemd: %s", err)
            return False
    return True


class WatchdogService:
    name = "watchdog"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.interval = watchdog_interval(os.environ, os.getpid())
        self.pings = 0
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self.interval is not None and os.environ.get("NOTIFY_SOCKET"):
            log.info("watchdog: pinging systemd every %.1f s", self.interval)
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            if notify("WATCHDOG=1"):
                self.pings += 1
            await asyncio.sleep(self.interval or 1.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def apply(self, config: DaemonConfig) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {"interval": self.interval, "pings": self.pings}
