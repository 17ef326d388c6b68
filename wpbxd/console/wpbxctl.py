"""``wpbxctl``: the command-line control client of wpbxd.

Commands come from the modules in ``wpbxd/console/commands/``: each has
``register(subparsers)`` adding its sub-commands with ``set_defaults(func=...)``.
A command function gets the parsed arguments and a ``Ctl`` (``ctl.call(cmd, args)``,
``ctl.print(...)``) and returns an exit code. Errors print one line on stderr and
exit non-zero; every list command takes ``--json``.
"""

import argparse
import importlib
import json
import os
import pkgutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from wpbxd.console import client, commands


class Ctl:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        return client.request(self.data_dir, cmd, args)

    def stream(self, cmd: str, args: dict[str, Any] | None = None) -> Iterable[Any]:
        return client.stream(self.data_dir, cmd, args)

    @staticmethod
    def print_json(value: Any) -> None:
        print(json.dumps(value, indent=2, default=str))

    @staticmethod
    def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
        if not rows:
            print("(none)")
            return
        cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        for row in cells:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())

    def output(self, args: argparse.Namespace, rows: list[dict[str, Any]],
               columns: Sequence[str]) -> None:
        if getattr(args, "json", False):
            self.print_json(rows)
        else:
            self.print_table(rows, columns)


def default_data_dir() -> Path:
    env = os.environ.get("WPBX_DATA")
    if env:
        return Path(env)
    if Path("/var/lib/wpbx/wpbxd.sock").exists():
        return Path("/var/lib/wpbx")
    return Path("./var")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wpbxctl", description="control a running wpbxd")
    parser.add_argument("--data", type=Path, default=None,
                        help="wpbxd's data directory (default: $WPBX_DATA, /var/lib/wpbx or ./var)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    ctl = Ctl(args.data or default_data_dir())
    try:
        return int(args.func(args, ctl) or 0)
    except client.ControlError as err:
        print(f"wpbxctl: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
