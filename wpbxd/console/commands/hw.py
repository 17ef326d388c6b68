"""``wpbxctl hw``: board sensors (temperatures, fan speeds)."""

import argparse

SENSOR_COLUMNS = ("name", "kind", "value", "unit", "error")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hw", help="board sensors")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=sensors)
    hsub = p.add_subparsers(dest="action")
    s = hsub.add_parser("sensors", help="temperatures and fan speeds")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=sensors)


def sensors(args, ctl) -> int:
    rows = ctl.call("hw.sensors")
    ctl.output(args, rows, SENSOR_COLUMNS)
    return 0
