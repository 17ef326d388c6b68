"""Serial login throttling with an injected clock (ConsoleService in-process on a pty)."""

import asyncio
import termios

from tests.console.ptycable import PtyCable
from wpbxd.bus import EventBus
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store
from wpbxd.console import recovery
from wpbxd.console.serial_console import ConsoleService
from wpbxd.control import ControlServer
from wpbxd.service import DaemonConfig, ServiceContext


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_logins_are_throttled_per_line_then_the_right_one_opens_the_menu(tmp_path):
    store = Store(tmp_path / "wpbx.db")
    store.migrate()
    apply_factory_defaults(store)
    recovery.set_boot_countdown(store, 0)  # no boot menu: straight to the login
    cable = PtyCable(tmp_path / "ttyCONSOLE")
    clock = FakeClock()
    config = DaemonConfig(data_dir=tmp_path, console_tty=str(cable.path))

    async def scenario() -> None:
        bus = EventBus()
        ctx = ServiceContext(config=config, store=store, bus=bus,
                             control=ControlServer(tmp_path / "wpbxd.sock"), clock=clock)
        service = ConsoleService(ctx)
        await service.start()

        async def expect(pattern: str):
            return await asyncio.to_thread(cable.expect, pattern)

        async def type_(text: str) -> None:
            await asyncio.to_thread(cable.type, text)

        try:
            await expect(r"login: ")
            iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(cable.master)
            assert (ispeed, ospeed) == (termios.B19200, termios.B19200)  # 19200 8N1, raw
            assert cflag & termios.CSIZE == termios.CS8 and not cflag & (termios.PARENB | termios.CSTOPB)
            assert not lflag & (termios.ICANON | termios.ECHO)
            for _ in range(3):
                await type_("admin\r")
                await expect(r"Password: ")
                await type_("wrong\r")
                await expect(r"Login incorrect")
            await type_("admin\r")
            await expect(r"Too many failed logins; try again in 5 s")
            clock.now += 3
            await type_("admin\r")
            await expect(r"try again in 2 s")
            clock.now += 3
            await type_("admin\r")
            await expect(r"Password: ")
            await type_("wrong\r")
            await expect(r"Login incorrect")
            await type_("admin\r")
            await expect(r"try again in 10 s")  # doubled
            clock.now += 11
            await type_("admin\r")
            await expect(r"Password: ")
            await type_("wildx\x7fiz\x08x\r")  # typo fixed with DEL and backspace
            await expect(r"wpbx console \(serial\)")
            await expect(r"Choice \[0-9\]: ")
            await type_("\x00\x01\x1b[A\xff42\r")  # noise, an arrow key, then 42
            await expect(r"Unknown choice '42'")
            await type_("0\r")
            await expect(r"Bye")
            await expect(r"login: ")
        finally:
            await service.stop()

    try:
        asyncio.run(scenario())
    finally:
        cable.close()
        store.close()
