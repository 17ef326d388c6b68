"""The console's screens as sans-IO state machines: boot menu, login, console menu.

Rule 1: bytes typed by the person go in with ``feed(data, now)``, time passes with
``tick(now)``; what to show comes out of ``take_output()`` and what to *do* comes
out as effect records (``Boot``, ``ResetAdmin``, ``Recover``, ``CheckLogin``,
``RunEntry``, ``Close``...). The owner performs an effect and reports back
(``login_result``, ``action_done``, ``entry_done``).
Rule 2: nothing here touches a file descriptor, the store, a clock or a process;
the same screens run on the serial line (inside wpbxd) and over SSH
(``wpbx-console``), and unit tests drive them byte by byte.
Rule 3: every destructive entry needs an explicit confirmation; a wrong answer or
^C cancels and changes nothing.

Seed chapter "Accès au PBX via le port série RS-232 et SSH".
"""

import hmac
import math
import re
from dataclasses import dataclass

from wpbxd.console.lineedit import EndOfInput, Interrupt, Line, LineEditor, LineTooLong

BOOT_COUNTDOWN = 5.0        # seconds before a normal boot when nobody types
BOOT_IDLE_TIMEOUT = 120.0   # seconds an abandoned boot menu waits before booting anyway
LOGIN_FREE_ATTEMPTS = 3     # failed logins before the throttle starts
LOGIN_BASE_DELAY = 5.0      # seconds locked after the first throttled failure (doubles)
LOGIN_MAX_DELAY = 300.0     # seconds, the longest lock
RECOVER_WORD = "RECOVER"
CONFIRM_WORD = "yes"
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})$")
CRLF = "\r\n"


# -- effects ---------------------------------------------------------------------
@dataclass(frozen=True)
class Boot:
    """Leave the boot menu and start the PBX normally."""


@dataclass(frozen=True)
class ResetAdmin:
    """Set admin / wildix again (must change) and lift every ban."""


@dataclass(frozen=True)
class Recover:
    """Factory reset: configuration and data back to defaults (code already checked)."""


@dataclass(frozen=True)
class CheckLogin:
    login: str
    password: str


@dataclass(frozen=True)
class LoggedIn:
    login: str


@dataclass(frozen=True)
class RunEntry:
    """Run a console menu entry (``engine``, ``network``, ``ping``, ``shell``...)."""

    entry: str
    arg: str | None = None


@dataclass(frozen=True)
class Close:
    """The person left (logout, ^D)."""


Effect = Boot | ResetAdmin | Recover | CheckLogin | LoggedIn | RunEntry | Close


class LoginThrottle:
    """Failed attempts per terminal: free ones first, then a doubling lock."""

    def __init__(self, free: int = LOGIN_FREE_ATTEMPTS, base: float = LOGIN_BASE_DELAY,
                 ceiling: float = LOGIN_MAX_DELAY) -> None:
        self.free, self.base, self.ceiling = free, base, ceiling
        self.failures = 0
        self.locked_until = 0.0

    def wait(self, now: float) -> float:
        """Seconds left before the next attempt is allowed (0 when allowed)."""
        return max(0.0, self.locked_until - now)

    def failed(self, now: float) -> None:
        self.failures += 1
        extra = self.failures - self.free
        if extra >= 0:
            self.locked_until = now + min(self.ceiling, self.base * 2 ** extra)

    def succeeded(self) -> None:
        self.failures = 0
        self.locked_until = 0.0


class Screen:
    """Shared plumbing: a line editor, an output buffer and pending effects."""

    def __init__(self) -> None:
        self.editor = LineEditor()
        self._out = bytearray()
        self._effects: list[Effect] = []

    def write(self, text: str) -> None:
        self._out += text.replace("\r\n", "\n").replace("\n", CRLF).encode("utf-8", "replace")

    def take_output(self) -> bytes:
        data = self.editor.take_output() + bytes(self._out)
        self._out.clear()
        return data

    def _emit(self, effect: Effect) -> None:
        self._effects.append(effect)

    def _take_effects(self) -> list[Effect]:
        effects, self._effects = self._effects, []
        return effects

    def feed(self, data: bytes, now: float) -> list[Effect]:
        for index in range(len(data)):
            # one byte at a time, so the echo of each line precedes our answer to it
            events = self.editor.feed(data[index:index + 1])
            self._out += self.editor.take_output()
            for event in events:
                self._dispatch(event, now)
        return self._take_effects()

    def _dispatch(self, event: object, now: float) -> None:
        if isinstance(event, Line):
            self.on_line(event.text.strip(), now)
        elif isinstance(event, LineTooLong):
            self.write(f"Input too long ({event.length} characters), ignored.\n")
            self.prompt()
        elif isinstance(event, Interrupt):
            self.on_interrupt(now)
        elif isinstance(event, EndOfInput):
            self.on_end(now)

    def tick(self, now: float) -> list[Effect]:
        return self._take_effects()

    def deadline(self) -> float | None:
        """When ``tick`` must be called next (None: no timer)."""
        return None

    # screens override these
    def prompt(self) -> None: ...

    def on_line(self, text: str, now: float) -> None: ...

    def on_interrupt(self, now: float) -> None:
        self.prompt()

    def on_end(self, now: float) -> None: ...


# -- boot menu -------------------------------------------------------------------
BOOT_MENU = """
wpbx boot menu
  1  Boot normally
  2  Reset admin password (admin / wildix) and unban all addresses
  3  Recover system (factory reset: erases all configuration and data)
"""


class BootMenu(Screen):
    """Shown on the serial line before the PBX services start."""

    def __init__(self, recovery_code: str, now: float, countdown: float = BOOT_COUNTDOWN,
                 idle_timeout: float = BOOT_IDLE_TIMEOUT) -> None:
        super().__init__()
        self.recovery_code = recovery_code
        self.state = "choose"
        self.countdown_until: float | None = now + countdown
        self.idle_timeout = idle_timeout
        self.last_input = now
        self.throttle = LoginThrottle()
        self.write(BOOT_MENU)
        self.write(f"Normal boot in {int(countdown)} s; type a choice to stop the countdown.\n")
        self.prompt()

    def prompt(self) -> None:
        self.editor.secret = self.state == "recover_code"
        self.write({
            "choose": "Choice [1-3]: ",
            "confirm_reset": f"Reset the admin password and unban all addresses? Type {CONFIRM_WORD}: ",
            "recover_word": f"This erases ALL configuration and data. Type {RECOVER_WORD} to go on: ",
            "recover_code": "Recovery code (box label): ",
            "done": "",
        }[self.state])

    def deadline(self) -> float | None:
        if self.state == "done":
            return None
        if self.countdown_until is not None:
            return self.countdown_until
        return self.last_input + self.idle_timeout

    def tick(self, now: float) -> list[Effect]:
        if self.state != "done":
            if self.countdown_until is not None:
                if now >= self.countdown_until:
                    self.write("\nNo choice made: booting normally.\n")
                    self._boot()
            elif now - self.last_input >= self.idle_timeout:
                self.write("\nBoot menu left idle: booting normally.\n")
                self._boot()
        return self._take_effects()

    def feed(self, data: bytes, now: float) -> list[Effect]:
        if self.state == "done":
            return []
        if self.countdown_until is not None and any(0x20 <= b < 0x7F or b == 0x0D for b in data):
            self.countdown_until = None  # a person is there: wait for them
        self.last_input = now
        return super().feed(data, now)

    def _boot(self) -> None:
        self.state = "done"
        self.countdown_until = None
        self._emit(Boot())

    def on_line(self, text: str, now: float) -> None:
        state = self.state
        if state == "choose":
            if text == "1":
                self.write("Booting normally.\n")
                self._boot()
                return
            if text == "2":
                self.state = "confirm_reset"
            elif text == "3":
                self.state = "recover_word"
            elif text:
                self.write(f"Unknown choice {text!r}.\n")
        elif state == "confirm_reset":
            self.state = "choose"
            if text == CONFIRM_WORD:
                self._emit(ResetAdmin())
                return  # the owner reports with action_done()
            self.write("Cancelled; nothing changed.\n")
        elif state == "recover_word":
            if text == RECOVER_WORD:
                self.state = "recover_code"
            else:
                self.state = "choose"
                self.write("Cancelled; nothing changed.\n")
        elif state == "recover_code":
            self.state = "choose"
            wait = self.throttle.wait(now)
            if wait:
                self.write(f"Too many wrong codes; try again in {math.ceil(wait)} s. Nothing changed.\n")
            elif hmac.compare_digest(text.upper().encode(), self.recovery_code.upper().encode()):
                self.throttle.succeeded()
                self._emit(Recover())
                return
            else:
                self.throttle.failed(now)
                self.write("Wrong recovery code; nothing changed.\n")
        self.prompt()

    def on_interrupt(self, now: float) -> None:
        if self.state != "choose":
            self.write("Cancelled; nothing changed.\n")
        self.state = "choose"
        self.prompt()

    def action_done(self, message: str) -> None:
        """The owner finished a reset/recover; show its result and the menu again."""
        self.write(message.rstrip("\n") + "\n")
        self.write(BOOT_MENU)
        self.prompt()


# -- login -----------------------------------------------------------------------
class LoginPrompt(Screen):
    """The super admin's login on the serial line, throttled per terminal."""

    def __init__(self, throttle: LoginThrottle | None = None, banner: str = "") -> None:
        super().__init__()
        self.throttle = throttle or LoginThrottle()
        self.state = "login"
        self.login = ""
        if banner:
            self.write(banner.rstrip("\n") + "\n")
        self.prompt()

    def prompt(self) -> None:
        self.editor.secret = self.state == "password"
        self.write({"login": "login: ", "password": "Password: ", "checking": ""}[self.state])

    def on_line(self, text: str, now: float) -> None:
        if self.state == "login":
            if not text:
                self.prompt()
                return
            wait = self.throttle.wait(now)
            if wait:
                self.write(f"Too many failed logins; try again in {math.ceil(wait)} s.\n")
                self.prompt()
                return
            self.login, self.state = text, "password"
            self.prompt()
        elif self.state == "password":
            self.state = "checking"
            self._emit(CheckLogin(self.login, text))

    def on_interrupt(self, now: float) -> None:
        if self.state != "checking":
            self.state = "login"
            self.prompt()

    def login_result(self, ok: bool, now: float) -> list[Effect]:
        if ok:
            self.throttle.succeeded()
            self.state = "done"
            self._emit(LoggedIn(self.login))
        else:
            self.throttle.failed(now)
            self.write("Login incorrect.\n")
            self.state = "login"
            self.prompt()
        return self._take_effects()


# -- console menu ----------------------------------------------------------------
MENU_ENTRIES = (
    ("1", "engine", "PBX engine CLI (live call log, show commands)"),
    ("2", "network", "Network status"),
    ("3", "ping", "Ping / traceroute a host"),
    ("4", "registrations", "Registrations"),
    ("5", "syslog", "System log (follow; ^C to return)"),
    ("6", "restart", "Restart the PBX service"),
    ("7", "reboot", "Reboot"),
    ("8", "shutdown", "Shut down"),
    ("9", "shell", "Shell (super admin)"),
    ("0", "exit", "Log out"),
)
DESTRUCTIVE = {
    "restart": "Restart the PBX service (calls in progress are cut)?",
    "reboot": "Reboot the PBX (calls in progress are cut)?",
    "shutdown": "Shut the PBX down (it stays off until powered again)?",
    "shell": "Open a shell as the system user admin (every change there is yours)?",
}


class ConsoleMenu(Screen):
    """The menu after login (serial) or for the admin account over SSH."""

    def __init__(self, super_admin_verified: bool, throttle: LoginThrottle | None = None,
                 title: str = "wpbx console") -> None:
        super().__init__()
        self.verified = super_admin_verified
        self.throttle = throttle or LoginThrottle()
        self.title = title
        self.state = "menu"
        self.pending: str | None = None
        self.host = ""
        self.show_menu()

    def show_menu(self) -> None:
        self.write(f"\n{self.title}\n")
        for key, _, text in MENU_ENTRIES:
            self.write(f"  {key}  {text}\n")
        self.state = "menu"
        self.prompt()

    def prompt(self) -> None:
        self.editor.secret = self.state == "password"
        self.write({
            "menu": "Choice [0-9]: ",
            "confirm": f"{DESTRUCTIVE.get(self.pending or '', '')} Type {CONFIRM_WORD} to confirm: ",
            "host": "Host name or address: ",
            "tool": "1 ping, 2 traceroute [1]: ",
            "password": "Super admin password: ",
            "busy": "",
        }[self.state])

    def on_line(self, text: str, now: float) -> None:
        handler = getattr(self, f"_on_{self.state}", None)
        if handler is not None:
            handler(text, now)

    def _on_menu(self, text: str, now: float) -> None:
        entry = {key: name for key, name, _ in MENU_ENTRIES}.get(text)
        if not text:
            self.prompt()
        elif entry is None:
            self.write(f"Unknown choice {text!r}.\n")
            self.prompt()
        elif entry == "exit":
            self.state = "busy"
            self._emit(Close())
        elif entry == "ping":
            self.state = "host"
            self.prompt()
        elif entry == "shell" and not self.verified:
            wait = self.throttle.wait(now)
            if wait:
                self.write(f"Too many failed attempts; try again in {math.ceil(wait)} s.\n")
                self.prompt()
                return
            self.pending, self.state = "shell", "password"
            self.prompt()
        elif entry in DESTRUCTIVE:
            self.pending, self.state = entry, "confirm"
            self.prompt()
        else:
            self._run(entry)

    def _on_confirm(self, text: str, now: float) -> None:
        entry, self.pending = self.pending, None
        if text == CONFIRM_WORD and entry:
            self._run(entry)
        else:
            self.write("Cancelled.\n")
            self.show_menu()

    def _on_host(self, text: str, now: float) -> None:
        if not text:
            self.show_menu()
        elif not HOST_RE.match(text):
            self.write("Not a host name or address.\n")
            self.prompt()
        else:
            self.host, self.state = text, "tool"
            self.prompt()

    def _on_tool(self, text: str, now: float) -> None:
        if text in ("", "1"):
            self._run("ping", self.host)
        elif text == "2":
            self._run("traceroute", self.host)
        else:
            self.write("Answer 1 or 2.\n")
            self.prompt()

    def _on_password(self, text: str, now: float) -> None:
        self.state = "busy"
        self._emit(CheckLogin("admin", text))

    def login_result(self, ok: bool, now: float) -> list[Effect]:
        """Answer to the ``CheckLogin`` the shell entry asked for."""
        if ok:
            self.throttle.succeeded()
            self.verified = True
            self.pending, self.state = "shell", "confirm"
            self.prompt()
        else:
            self.throttle.failed(now)
            self.pending = None
            self.write("Wrong super admin password.\n")
            self.show_menu()
        return self._take_effects()

    def _run(self, entry: str, arg: str | None = None) -> None:
        self.state = "busy"
        self._emit(RunEntry(entry, arg))

    def entry_done(self, message: str = "") -> None:
        if message:
            self.write(message.rstrip("\n") + "\n")
        self.show_menu()

    def on_interrupt(self, now: float) -> None:
        if self.state != "busy":
            self.pending = None
            self.show_menu()

    def on_end(self, now: float) -> None:
        if self.state == "menu":
            self.state = "busy"
            self._emit(Close())
