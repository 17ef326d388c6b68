"""The composition root: read options, open the store, build the services, run the loop.

This is the only module that knows every service. It owns the process concerns:
the single-instance lock on the data directory, logging to stderr, signals
(SIGHUP reloads, SIGTERM/SIGINT stop cleanly), and ``sd_notify`` readiness.
"""

import argparse
import asyncio
import fcntl
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from wpbxd import __version__
from wpbxd.bus import EventBus
from wpbxd.config import commands as config_commands
from wpbxd.config.defaults import apply_factory_defaults, is_factory_fresh
from wpbxd.config.store import Store
from wpbxd.console.serial_console import ConsoleService
from wpbxd.control import ControlServer
from wpbxd.errors import UserError
from wpbxd.events import ConfigChanged
from wpbxd.hw.sensors import SensorsService
from wpbxd.hw.storage import StorageService
from wpbxd.hw.watchdog import WatchdogService
from wpbxd.net.service import NetService
from wpbxd.service import DaemonConfig, Service, ServiceContext
from wpbxd.services.backup import BackupService
from wpbxd.services.heap import HeapTrimService
from wpbxd.services.upgrade import UpgradeService
from wpbxd.telephony.cdr_backends.service import CdrBackendService
from wpbxd.telephony.dialplan.service import DialplanService
from wpbxd.telephony.media.service import MediaService
from wpbxd.telephony.service import SipService
from wpbxd.telephony.trunks.service import TrunkService
from wpbxd.web.service import WebService

log = logging.getLogger("wpbxd")

DEFAULT_DATA = {"host": "./var", "appliance": "/var/lib/wpbx"}
DEFAULT_WEB = {"host": "0.0.0.0:8080", "appliance": "0.0.0.0:443"}
DB_NAME = "wpbx.db"
SOCKET_NAME = "wpbxd.sock"
LOCK_NAME = "wpbxd.lock"


class AlreadyRunning(UserError):
    pass


def _host_port(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{option} wants HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _port_range(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    if not sep or not lo.isdigit() or not hi.isdigit():
        raise argparse.ArgumentTypeError(f"--rtp-ports wants LO-HI, got {text!r}")
    low, high = int(lo), int(hi)
    if not 1024 <= low < high < 65536 or (high - low) < 3:
        raise argparse.ArgumentTypeError("--rtp-ports must be 1024 <= LO < HI < 65536, 4 ports at least")
    return low, high


def parse_args(argv: list[str] | None = None) -> DaemonConfig:
    parser = argparse.ArgumentParser(prog="wpbxd", description="wpbx PBX daemon")
    parser.add_argument("--data", help="data directory (default ./var in host mode, /var/lib/wpbx in appliance mode)")
    parser.add_argument("--mode", choices=("host", "appliance"), default="host")
    parser.add_argument("--sip-listen", default="0.0.0.0:5060", metavar="HOST:PORT")
    parser.add_argument("--web-listen", default=None, metavar="HOST:PORT",
                        help="default 0.0.0.0:443 in appliance mode (HTTPS, port 80 redirects), 0.0.0.0:8080 in host mode")
    parser.add_argument("--rtp-ports", default="10000-20000", metavar="LO-HI")
    parser.add_argument("--console-tty", default=None, metavar="PATH|none")
    parser.add_argument("--console-baud", type=int, default=19200)
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), type=str.upper)
    parser.add_argument("--version", action="version", version=f"wpbxd {__version__}")
    ns = parser.parse_args(argv)
    try:
        sip = _host_port(ns.sip_listen, "--sip-listen")
        web = _host_port(ns.web_listen or DEFAULT_WEB[ns.mode], "--web-listen")
        rtp = _port_range(ns.rtp_ports)
    except argparse.ArgumentTypeError as err:
        parser.error(str(err))
    tty = ns.console_tty
    if tty is None and ns.mode == "appliance":
        tty = "/dev/ttyS0"
    if tty == "none":
        tty = None
    logging.basicConfig(
        level=ns.log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return DaemonConfig(
        data_dir=Path(ns.data or DEFAULT_DATA[ns.mode]).resolve(), mode=ns.mode,
        sip_host=sip[0], sip_port=sip[1], web_host=web[0], web_port=web[1],
        rtp_low=rtp[0], rtp_high=rtp[1], console_tty=tty, console_baud=ns.console_baud,
    )


def acquire_lock(data_dir: Path) -> int:
    """Hold an exclusive lock on the data directory for the life of the process."""
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise AlreadyRunning(
            f"another wpbxd (pid {other}) is already running on {data_dir}; stop it first"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def sd_notify(message: str) -> None:
    """Tell systemd (``Type=notify``) about our state, when it is listening."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode())
        except OSError as err:
            log.warning("sd_notify failed: %s", err)


def open_store(data_dir: Path) -> Store:
    store = Store(data_dir / DB_NAME)
    applied = store.migrate()
    if applied:
        log.info("store: applied migrations %s", ", ".join(applied))
    if is_factory_fresh(store):
        apply_factory_defaults(store)
        log.info("store: factory defaults written (web login admin / wildix, must change)")
    return store


def build_services(ctx: ServiceContext) -> list[Service]:
    """Every service of the daemon, in start order (stopped in reverse)."""
    services: list[Service] = []
    services.append(ConsoleService(ctx))  # first: the serial boot menu runs before the others start
    services.append(StorageService(ctx))  # before backup: the areas may move to the USB key
    services.append(BackupService(ctx))
    services.append(SensorsService(ctx))
    services.append(WatchdogService(ctx))
    services.append(NetService(ctx))  # before the services that bind on the ports it configures
    services.append(DialplanService(ctx))
    services.append(MediaService(ctx))    # after the dialplan: it seeds the feature codes into it
    services.append(TrunkService(ctx))
    services.append(SipService(ctx))
    services.append(CdrBackendService(ctx))
    services.append(UpgradeService(ctx))
    services.append(WebService(ctx))
    services.append(HeapTrimService(ctx))   # gives freed heap pages back (user imports, transaction waves)
    return services


class Daemon:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.started = time.time()
        self.stopping = asyncio.Event()
        self.store: Store | None = None
        self.services: list[Service] = []

    async def run(self) -> None:
        cfg = self.config
        self.store = open_store(cfg.data_dir)
        bus = EventBus()
        bus.attach_loop(asyncio.get_running_loop())
        control = ControlServer(cfg.data_dir / SOCKET_NAME)
        ctx = ServiceContext(config=cfg, store=self.store, bus=bus, control=control)
        config_commands.register(control, self.store, bus)
        control.register("status", self.status)
        control.register("reload", self.reload_command)
        self.ctx = ctx
        self.services = build_services(ctx)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        started: list[Service] = []
        try:
            for service in self.services:
                await service.start()
                started.append(service)
            await control.start()
            self._announce()
            sd_notify("READY=1")
            await self.stopping.wait()
            log.info("stopping")
            sd_notify("STOPPING=1")
        finally:
            await control.stop()
            for service in reversed(started):
                try:
                    await service.stop()
                except Exception:
                    log.exception("service %s did not stop cleanly", service.name)
            self.store.close()

    def _announce(self) -> None:
        cfg = self.config
        names = ", ".join(s.name for s in self.services) or "none"
        log.info("wpbxd %s ready (mode %s, data %s, services: %s)", __version__, cfg.mode, cfg.data_dir, names)
        log.info("control socket: %s", cfg.data_dir / SOCKET_NAME)
        for line in self.listening():
            log.info("%s", line)

    def listening(self) -> list[str]:
        lines = []
        for service in self.services:
            describe = getattr(service, "describe", None)
            if describe:
                lines.extend(describe())
        return lines

    def reload(self) -> None:
        log.info("reloading configuration (SIGHUP)")
        assert self.store is not None
        self.ctx.bus.publish(ConfigChanged("all"))
        for service in self.services:
            try:
                service.apply(self.config)
            except Exception:
                log.exception("service %s failed to apply the configuration", service.name)

    def reload_command(self, args: dict[str, Any]) -> str:
        self.reload()
        return "reloaded"

    def status(self, args: dict[str, Any]) -> dict[str, Any]:
        assert self.store is not None
        status: dict[str, Any] = {
            "version": __version__,
            "mode": self.config.mode,
            "pid": os.getpid(),
            "uptime": round(time.time() - self.started, 1),
            "data_dir": str(self.config.data_dir),
            "users": self.store.one("SELECT COUNT(*) AS n FROM users")["n"],
            "schema_version": self.store.schema_version(),
            "services": [s.name for s in self.services],
            "listening": self.listening(),
        }
        for service in self.services:
            extra = getattr(service, "status", None)
            if extra:
                status[service.name] = extra()
        return status


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = acquire_lock(config.data_dir)
    except (UserError, OSError) as err:
        print(f"wpbxd: {err}", file=sys.stderr)
        return 1
    try:
        asyncio.run(Daemon(config).run())
    except UserError as err:
        print(f"wpbxd: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"wpbxd: cannot start: {err}", file=sys.stderr)
        return 1
    finally:
        os.close(lock_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
