"""The RS-232 console service: boot menu, login, then the console menu on a serial line.

Responsibilities:
- open the configured serial device with pyserial (19200 8N1 by default, any path;
  a pty in tests) and keep it open: a pulled cable or a vanished USB adapter (EIO,
  hang-up) closes it, and it is reopened every ``RECONNECT_INTERVAL``;
- at start, *before the other services start*, run the boot menu (``BootMenu``):
  its countdown, admin reset and factory reset act on the store directly;
- afterwards, a login prompt for the super admin (throttled per line), then the
  console menu program (``wpbx-console --serial``) in a pty whose bytes are
  relayed to and from the line; when it ends (or the cable is pulled) the line
  goes back to the login prompt;
- the control commands the consoles need: ``console.auth`` (super admin password
  check for the SSH shell entry) and ``box.info`` (recovery code for the Info page).

It must never open a serial device that was not configured (``--console-tty``),
and never block the event loop on the line: writes are non-blocking and bounded.
"""

import asyncio
import errno
import fcntl
import logging
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from typing import Any

import serial

from wpbxd import __version__
from wpbxd.config import users
from wpbxd.console import recovery
from wpbxd.console.screens import (
    Boot,
    BootMenu,
    CheckLogin,
    LoggedIn,
    LoginPrompt,
    LoginThrottle,
    Recover,
    ResetAdmin,
    Screen,
)
from wpbxd.errors import ValidationError
from wpbxd.hw import areas, power
from wpbxd.service import DaemonConfig, ServiceContext

log = logging.getLogger(__name__)

RECONNECT_INTERVAL = 1.0      # seconds between attempts to reopen a lost line
READ_CHUNK = 4096             # bytes per read
MAX_PENDING_OUTPUT = 64 * 1024  # bytes kept for a line nobody reads; older output is dropped
TERMINAL_SIZE = (24, 80)      # rows, columns given to the menu's pty


class SerialLine:
    """One serial device, non-blocking, with reconnects; bytes in via ``on_data``."""

    def __init__(self, path: str, baud: int, on_data: Callable[[bytes], None],
                 on_lost: Callable[[], None]) -> None:
        self.path, self.baud = path, baud
        self.on_data, self.on_lost = on_data, on_lost
        self.port: serial.Serial | None = None
        self._out = bytearray()
        self._writing = False
        self._warned = False
        self.opened = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return self.port is not None

    def open(self) -> bool:
        try:
            port = serial.Serial(
                self.path, baudrate=self.baud, bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE, stopbits=serial.STOPBITS_ONE,
                timeout=0, write_timeout=0, exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as err:
            if not self._warned:
                log.warning("console: cannot open %s (%s); retrying every %.0f s",
                            self.path, err, RECONNECT_INTERVAL)
                self._warned = True
            return False
        self.port = port
        self._warned = False
        asyncio.get_running_loop().add_reader(port.fileno(), self._readable)
        self.opened.set()
        log.info("console: %s open at %d 8N1", self.path, self.baud)
        return True

    def close(self) -> None:
        port, self.port = self.port, None
        self.opened.clear()
        self._out.clear()
        if port is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(port.fileno())
        if self._writing:
            loop.remove_writer(port.fileno())
            self._writing = False
        try:
            port.close()
        except (serial.SerialException, OSError):
            pass

    def _lost(self, why: str) -> None:
        log.warning("console: line %s lost (%s); waiting for it to come back", self.path, why)
        self.close()
        self.on_lost()

    def _readable(self) -> None:
        assert self.port is not None
        try:
            data = os.read(self.port.fileno(), READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as err:
            self._lost(os.strerror(err.errno or errno.EIO))
            return
        if not data:
            self._lost("hang-up")
            return
        self.on_data(data)

    def write(self, data: bytes) -> None:
        if self.port is None or not data:
            return
        self._out += data
        if len(self._out) > MAX_PENDING_OUTPUT:
            del self._out[: len(self._out) - MAX_PENDING_OUTPUT]
        self._flush()

    def _flush(self) -> None:
        if self.port is None:
            return
        try:
            while self._out:
                sent = os.write(self.port.fileno(), self._out)
                del self._out[:sent]
        except BlockingIOError:
            pass
        except OSError as err:
            self._lost(os.strerror(err.errno or errno.EIO))
            return
        loop = asyncio.get_running_loop()
        if self._out and not self._writing:
            loop.add_writer(self.port.fileno(), self._flush)
            self._writing = True
        elif not self._out and self._writing:
            loop.remove_writer(self.port.fileno())
            self._writing = False


class ConsoleService:
    name = "console"

    def __init__(self, ctx: ServiceContext, menu_command: list[str] | None = None) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self.clock = ctx.clock
        self.throttle = LoginThrottle()
        self.line: SerialLine | None = None
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._child: subprocess.Popen | None = None
        self.menu_command = menu_command or [
            sys.executable, "-m", "wpbxd.console.menu", "--serial",
            "--data", str(self.config.data_dir), "--mode", self.config.mode,
        ]
        self.state = "off"
        self._reconnected = False
        ctx.control.register("console.auth", self._auth_command)
        ctx.control.register("box.info", self._box_info)
        ctx.control.register("box.boot_countdown", self._set_countdown)
        ctx.control.register("box.power", self._power)

    # -- service -------------------------------------------------------------
    async def start(self) -> None:
        areas.ensure_areas(self.config.data_dir)
        self.code = recovery.recovery_code(self.ctx.store)
        if not self.config.console_tty:
            return
        self.line = SerialLine(self.config.console_tty, self.config.console_baud,
                               self._inbox.put_nowait, lambda: self._inbox.put_nowait(None))
        self.line.open()
        self._tasks.append(asyncio.create_task(self._reconnect_loop()))
        countdown = recovery.boot_countdown(self.ctx.store)
        if countdown > 0:
            self.state = "boot menu"
            await self._boot_menu(countdown)
        self.state = "login"
        self._tasks.append(asyncio.create_task(self._session_loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._kill_child()
        if self.line is not None:
            self.line.write(b"\r\nwpbx is stopping.\r\n")
            self.line.close()

    def apply(self, config: DaemonConfig) -> None:
        pass

    def describe(self) -> list[str]:
        if not self.config.console_tty:
            return ["console: serial console off"]
        return [f"console: serial console on {self.config.console_tty} at {self.config.console_baud} 8N1"]

    def status(self) -> dict[str, Any]:
        return {"tty": self.config.console_tty, "baud": self.config.console_baud,
                "line_open": bool(self.line and self.line.is_open), "state": self.state}

    # -- control commands ----------------------------------------------------
    async def _auth_command(self, args: dict[str, Any]) -> bool:
        password = args.get("password")
        if not isinstance(password, str):
            raise ValidationError("no password given", "password")
        return await asyncio.to_thread(self._is_super_admin, "admin", password)

    async def _power(self, args: dict) -> str:
        """``box.power {action: restart|reboot|poweroff}`` (``hw.power``), run off the loop."""
        action = str(args.get("action") or "")
        return await asyncio.get_running_loop().run_in_executor(None, power.act, action, self.config.mode)

    def _box_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"recovery_code": recovery.recovery_code(self.ctx.store), "version": __version__,
                "boot_countdown": recovery.boot_countdown(self.ctx.store)}

    def _set_countdown(self, args: dict[str, Any]) -> int:
        try:
            seconds = int(args.get("seconds"))
        except (TypeError, ValueError):
            raise ValidationError("must be a whole number of seconds", "seconds") from None
        if not 0 <= seconds <= 300:
            raise ValidationError("must be between 0 and 300", "seconds")
        recovery.set_boot_countdown(self.ctx.store, seconds)
        return seconds

    def _is_super_admin(self, login: str, password: str) -> bool:
        user = users.check_web_password(self.ctx.store, login, password)
        return user is not None and user.is_super_admin

    # -- the line ------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if self.line is not None and data:
            self.line.write(data)

    async def _reconnect_loop(self) -> None:
        assert self.line is not None
        while True:
            await asyncio.sleep(RECONNECT_INTERVAL)
            if not self.line.is_open and self.line.open():
                self._reconnected = True
                self._inbox.put_nowait(b"")  # wake the session: show its prompt again

    async def _next(self, screen: Screen) -> list | None:
        """Wait for input or the screen's deadline; None when the line was lost."""
        deadline = screen.deadline()
        timeout = None if deadline is None else max(0.0, deadline - self.clock())
        try:
            data = await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            return screen.tick(self.clock())
        if data is None:
            return None
        return screen.feed(data, self.clock())

    async def _boot_menu(self, countdown: int) -> None:
        menu = BootMenu(self.code, now=self.clock(), countdown=float(countdown))
        self._send(f"\r\nwpbx {__version__}\r\n".encode() + menu.take_output())
        while True:
            effects = await self._next(menu)
            if effects == [] and self._reconnected:
                self._reconnected = False
                menu.action_done("(line back)")  # a fresh terminal sees the menu again
            self._send(menu.take_output())
            for effect in effects or ():
                if isinstance(effect, Boot):
                    log.info("console: boot menu done, starting normally")
                    return
                if isinstance(effect, ResetAdmin):
                    message = await asyncio.to_thread(recovery.reset_admin, self.ctx.store, self.ctx.bus)
                    log.warning("console: %s", message)
                    menu.action_done(message)
                elif isinstance(effect, Recover):
                    log.warning("console: factory reset requested on the serial boot menu")
                    message = await asyncio.to_thread(
                        recovery.factory_reset, self.ctx.store, self.ctx.bus, self.config.data_dir)
                    log.warning("console: %s", message)
                    menu.action_done(message)
            self._send(menu.take_output())

    async def _session_loop(self) -> None:
        assert self.line is not None
        while True:
            await self.line.opened.wait()
            self._drain_inbox()
            self.state = "login"
            login = LoginPrompt(self.throttle, banner=f"\r\nwpbx {__version__} serial console")
            self._send(login.take_output())
            logged_in = await self._login(login)
            if logged_in:
                self.state = "menu"
                await self._run_menu()

    def _drain_inbox(self) -> None:
        while not self._inbox.empty():
            self._inbox.get_nowait()

    async def _login(self, login: LoginPrompt) -> bool:
        while True:
            effects = await self._next(login)
            if effects is None:
                return False
            self._send(login.take_output())
            for effect in effects:
                if isinstance(effect, CheckLogin):
                    ok = await asyncio.to_thread(self._is_super_admin, effect.login, effect.password)
                    if not ok:
                        log.warning("console: failed login as %r on %s", effect.login, self.config.console_tty)
                    effects.extend(login.login_result(ok, self.clock()))
                elif isinstance(effect, LoggedIn):
                    log.info("console: %s logged in on %s", effect.login, self.config.console_tty)
                    self._send(login.take_output())
                    if users.get_user(self.ctx.store, effect.login).must_change_password:
                        self._send(b"\r\nThe admin password must be changed: the web interface asks for a "
                                   b"new one at the next login.\r\n")
                    return True
            self._send(login.take_output())

    async def _run_menu(self) -> None:
        """The console menu program in a pty, relayed to and from the line."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *TERMINAL_SIZE, 0, 0))
        try:
            self._child = subprocess.Popen(
                self.menu_command, stdin=slave, stdout=slave, stderr=slave,
                preexec_fn=_controlling_tty, close_fds=True, env={**os.environ, "TERM": "vt100"},
            )
        except OSError as err:
            os.close(master)
            os.close(slave)
            self._send(f"cannot start the console menu: {err}\r\n".encode())
            return
        os.close(slave)
        os.set_blocking(master, False)
        loop = asyncio.get_running_loop()
        ended = asyncio.Event()

        def from_child() -> None:
            try:
                data = os.read(master, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(master)
                ended.set()
                return
            self._send(data)

        loop.add_reader(master, from_child)
        try:
            while not ended.is_set():
                getter = asyncio.ensure_future(self._inbox.get())
                waiter = asyncio.ensure_future(ended.wait())
                done, _ = await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if getter not in done:
                    getter.cancel()
                    break
                data = getter.result()
                if data is None:
                    log.info("console: line lost during a menu session; ending it")
                    break
                try:
                    os.write(master, data)
                except OSError:
                    break
        finally:
            loop.remove_reader(master)
            self._kill_child()
            os.close(master)

    def _kill_child(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGHUP)
            except ProcessLookupError:
                pass
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def _controlling_tty() -> None:
    """In the child: a new session whose controlling terminal is the pty (for ^C)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
