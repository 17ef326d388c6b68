"""The PBX engine CLI (console menu entry 1): live call log plus ``show`` commands.

Like ``asterisk -r``: it attaches to the running daemon through the control socket,
prints the live call log (the ``calls.follow`` stream) as it happens, and reads
commands: ``show calls``, ``show registrations``, ``status``, ``help``, ``exit``.
Any other word is sent as a control command (``calls.list`` ...) and its result
printed. It changes nothing by itself; a daemon without a command says so.
"""

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from wpbxd.console import client

ALIASES = {
    "show calls": "calls.list",
    "show channels": "calls.list",
    "show registrations": "registrations.list",
    "show peers": "registrations.list",
    "status": "status",
    "core show version": "status",
}
HELP = """Commands:
  show calls           calls in progress
  show registrations   registered phones
  status               daemon status
  AREA.VERB            any control command (see 'help all')
  help [all]           this text, or every control command
  exit                 back to the menu (also ^D)
The live call log prints as calls happen."""


def format_result(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        columns = list(dict.fromkeys(k for row in value for k in row))
        cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in value]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
        return "\n".join(lines)
    if isinstance(value, list) and not value:
        return "(none)"
    if isinstance(value, dict):
        return "\n".join(f"{k}: {json.dumps(v) if isinstance(v, dict | list) else v}" for k, v in value.items())
    return str(value)


def format_event(event: Any) -> str:
    if isinstance(event, dict):
        text = event.get("text") or " ".join(f"{k}={v}" for k, v in event.items() if k != "call_id")
        call = event.get("call_id")
        return f"-- [{call}] {text}" if call else f"-- {text}"
    return f"-- {event}"


class EngineCli:
    def __init__(self, data_dir: Path, out: TextIO = sys.stdout,
                 read_line: Callable[[str], str] = input) -> None:
        self.data_dir = data_dir
        self.out = out
        self.read_line = read_line
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            self.out.write(text.rstrip("\n") + "\n")
            self.out.flush()

    def _follow(self) -> None:
        try:
            for event in client.stream(self.data_dir, "calls.follow"):
                self.say(format_event(event))
        except client.ControlError as err:
            self.say(f"(live call log not available: {err})")
        except (OSError, ValueError):
            self.say("(live call log ended)")

    def run_command(self, line: str) -> bool:
        """Run one typed command; False when the person wants to leave."""
        words = " ".join(line.split())
        if not words:
            return True
        if words in ("exit", "quit"):
            return False
        if words in ("help", "?"):
            self.say(HELP)
            return True
        cmd = "help" if words == "help all" else ALIASES.get(words, words)
        if " " in cmd:
            self.say(f"No such command {words!r} (try 'help')")
            return True
        try:
            self.say(format_result(client.request(self.data_dir, cmd)))
        except client.ControlError as err:
            self.say(f"{words}: {err}")
        return True

    def run(self) -> int:
        try:
            status = client.request(self.data_dir, "status")
        except client.ControlError as err:
            self.say(f"cannot attach to the PBX engine: {err}")
            return 1
        self.say(f"Connected to wpbx {status.get('version', '?')} (pid {status.get('pid', '?')}). "
                 "'help' for commands, 'exit' or ^D to leave.")
        threading.Thread(target=self._follow, daemon=True).start()
        while True:
            try:
                line = self.read_line("wpbx*CLI> ")
            except EOFError:
                self.say("")
                return 0
            except KeyboardInterrupt:
                self.say("")
                continue
            if not self.run_command(line):
                return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="wpbx-engine-cli")
    parser.add_argument("--data", type=Path, default=Path("/var/lib/wpbx"))
    args = parser.parse_args(argv)
    return EngineCli(args.data).run()


if __name__ == "__main__":
    sys.exit(main())
