"""``wpbx-console``: the console menu program (SSH ``ForceCommand``, serial after login).

Drives a ``ConsoleMenu`` screen over the terminal on stdin/stdout (raw mode while
the menu is shown, the terminal's own mode while an entry runs) and performs its
entries: engine CLI, network status, ping/traceroute, registrations, syslog,
restart, reboot, shut down, shell. It talks to wpbxd only through the control
socket; restart, reboot and shut down are asked of wpbxd (``box.power``), which acts
only on the appliance under systemd and elsewhere says so and does nothing.

It must not change configuration itself, and never runs a destructive entry that
the screen did not confirm.
"""

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import sys
import termios
import time
import tty
from collections.abc import Sequence
from pathlib import Path

from wpbxd.console import client
from wpbxd.console.engine_cli import EngineCli, format_result
from wpbxd.console.screens import CheckLogin, Close, ConsoleMenu, RunEntry
from wpbxd.hw import power

READ_CHUNK = 1024  # bytes
LOG_TAIL_LINES = 50
PING_COUNT = 4


class Terminal:
    """stdin/stdout: raw while the menu reads keys, restored while an entry runs."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(self.fd) if os.isatty(self.fd) else None

    def raw(self) -> None:
        if self.saved is not None:
            tty.setraw(self.fd)

    def restore(self) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def read(self) -> bytes:
        try:
            return os.read(self.fd, READ_CHUNK)
        except OSError:
            return b""

    @staticmethod
    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(sys.stdout.fileno(), view)
            except BlockingIOError:
                continue
            view = view[written:]


class ConsoleProgram:
    def __init__(self, data_dir: Path, mode: str, serial: bool) -> None:
        self.data_dir = data_dir
        self.mode = mode
        self.serial = serial
        self.term = Terminal()
        title = "wpbx console (serial)" if serial else "wpbx console"
        self.menu = ConsoleMenu(super_admin_verified=serial, title=title)

    def run(self) -> int:
        self.term.raw()
        try:
            self.term.write(self.menu.take_output())
            while True:
                data = self.term.read()
                if not data:
                    return 0
                effects = self.menu.feed(data, _now())
                self.term.write(self.menu.take_output())
                for effect in effects:
                    if isinstance(effect, Close):
                        self.term.write(b"Bye.\r\n")
                        return 0
                    if isinstance(effect, CheckLogin):
                        self._check(effect)
                    elif isinstance(effect, RunEntry):
                        self._entry(effect)
                self.term.write(self.menu.take_output())
        finally:
            self.term.restore()

    def _check(self, effect: CheckLogin) -> None:
        try:
            ok = bool(client.request(self.data_dir, "console.auth", {"password": effect.password}))
        except client.ControlError as err:
            self.term.write(f"cannot check the password: {err}\r\n".encode())
            ok = False
        self.menu.login_result(ok, _now())

    def _entry(self, effect: RunEntry) -> None:
        self.term.restore()
        message = ""
        try:
            handler = getattr(self, f"entry_{effect.entry}")
            message = handler(effect.arg) or ""
        finally:
            self.term.raw()
        self.menu.entry_done(message)

    # -- entries -----------------------------------------------------------------
    def _say(self, text: str) -> None:
        print(text, flush=True)

    def _run(self, argv: Sequence[str]) -> str:
        """Run a program on the terminal; ^C stops it, not us."""
        if shutil.which(argv[0]) is None:
            return f"{argv[0]} is not installed on this system."
        previous = signal.signal(signal.SIGINT, _ignore)  # a handler, reset to default in the child
        try:
            code = subprocess.call(list(argv))
        except OSError as err:
            return f"cannot run {argv[0]}: {err}"
        finally:
            signal.signal(signal.SIGINT, previous)
        return "" if code in (0, -signal.SIGINT, 130) else f"({argv[0]} exited with status {code})"

    def entry_engine(self, arg: str | None) -> str:
        EngineCli(self.data_dir).run()
        return ""

    def entry_network(self, arg: str | None) -> str:
        self._say(network_status())
        return ""

    def entry_ping(self, arg: str | None) -> str:
        assert arg is not None
        return self._run(["ping", "-c", str(PING_COUNT), "--", arg])

    def entry_traceroute(self, arg: str | None) -> str:
        assert arg is not None
        tool = "traceroute" if shutil.which("traceroute") else "tracepath"
        return self._run([tool, arg])

    def entry_registrations(self, arg: str | None) -> str:
        try:
            self._say(format_result(client.request(self.data_dir, "registrations.list")))
        except client.ControlError as err:
            return f"registrations: {err}"
        return ""

    def entry_syslog(self, arg: str | None) -> str:
        self._say("Following the system log; ^C to return to the menu.")
        if shutil.which("journalctl") and Path("/run/systemd/journal").is_dir():
            return self._run(["journalctl", "-f", "-n", str(LOG_TAIL_LINES), "--no-pager"])
        for path in (self.data_dir / "wpbxd.log", Path("/var/log/wpbxd.log"), Path("/var/log/syslog")):
            if path.is_file():
                self._say(f"(no journal here: {path})")
                return self._run(["tail", "-n", str(LOG_TAIL_LINES), "-F", str(path)])
        return "No system journal and no log file found."

    def _power(self, action: str) -> str:
        """Restart, reboot and shut down are wpbxd's to do (``box.power``): this menu runs
        as the unprivileged system user, which systemd does not obey."""
        try:
            return str(client.request(self.data_dir, "box.power", {"action": action}))
        except client.ControlError as err:
            return f"{action}: {err}"

    def entry_restart(self, arg: str | None) -> str:
        return self._power("restart")

    def entry_reboot(self, arg: str | None) -> str:
        return self._power("reboot")

    def entry_shutdown(self, arg: str | None) -> str:
        return self._power("poweroff")

    def entry_shell(self, arg: str | None) -> str:
        shell = pwd.getpwuid(os.getuid()).pw_shell
        if not shell or not os.access(shell, os.X_OK) or shell.endswith(("nologin", "false")):
            shell = "/bin/sh"
        self._say(f"Shell {shell}; 'exit' returns to the menu.")
        previous = signal.signal(signal.SIGINT, _ignore)
        try:
            subprocess.call([shell, "-i"])
        finally:
            signal.signal(signal.SIGINT, previous)
        return ""


def _ignore(signum: int, frame: object) -> None:
    pass


def _now() -> float:
    return time.monotonic()


def network_status() -> str:
    """Links, addresses and routes of the box (pyroute2, read only)."""
    try:
        from pyroute2 import IPRoute
    except ImportError:
        return "pyroute2 is not installed."
    lines = []
    with IPRoute() as ipr:
        addresses: dict[int, list[str]] = {}
        for msg in ipr.get_addr():
            addresses.setdefault(msg["index"], []).append(
                f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}")
        for link in ipr.get_links():
            name = link.get_attr("IFLA_IFNAME")
            state = link.get_attr("IFLA_OPERSTATE") or "?"
            mac = link.get_attr("IFLA_ADDRESS") or ""
            lines.append(f"{name:<12} {state:<8} {mac:<18} {' '.join(addresses.get(link['index'], []))}".rstrip())
        lines.append("")
        for route in ipr.get_routes(family=2):
            dst = route.get_attr("RTA_DST")
            dst = f"{dst}/{route['dst_len']}" if dst else "default"
            gateway = route.get_attr("RTA_GATEWAY")
            oif = route.get_attr("RTA_OIF")
            names = {lk["index"]: lk.get_attr("IFLA_IFNAME") for lk in ipr.get_links()}
            via = f" via {gateway}" if gateway else ""
            lines.append(f"route {dst}{via} dev {names.get(oif, oif)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wpbx-console", description="wpbx console menu")
    parser.add_argument("--data", type=Path, default=None,
                        help="wpbxd's data directory (default: $WPBX_DATA or /var/lib/wpbx)")
    parser.add_argument("--mode", choices=("host", "appliance"), default=None)
    parser.add_argument("--serial", action="store_true",
                        help="started by wpbxd after the serial login (super admin already checked)")
    args = parser.parse_args(argv)
    data_dir = args.data or Path(os.environ.get("WPBX_DATA", "/var/lib/wpbx"))
    mode = args.mode or os.environ.get("WPBX_MODE") or ("appliance" if power.under_systemd() else "host")
    return ConsoleProgram(data_dir, mode, args.serial).run()


if __name__ == "__main__":
    sys.exit(main())
