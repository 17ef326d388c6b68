"""``wpbxctl cdr backend list|set|select|stats``: where call records are stored.

Joins the ``cdr`` command of ``sip.py`` (this module's name sorts after it).
"""

import argparse
import json

from wpbxd.console.client import ControlError
from wpbxd.console.commands.trunk import _subcommands

COLUMNS = ("name", "enabled", "stats", "queued", "status")


def register(sub: argparse._SubParsersAction) -> None:
    cdr = _subcommands(sub, "cdr", "call detail records")
    b = cdr.add_parser("backend", help="CDR backends: sqlite (default), csv, mysql")
    bsub = b.add_subparsers(dest="backend_action", required=True)
    ls = bsub.add_parser("list", help="backends with their status and queue")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=backend_list)
    st = bsub.add_parser("set", help="enable/disable a backend and set its options")
    st.add_argument("name", choices=("sqlite", "csv", "mysql"))
    on = st.add_mutually_exclusive_group()
    on.add_argument("--enable", dest="enabled", action="store_true", default=None)
    on.add_argument("--disable", dest="enabled", action="store_false")
    st.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="csv: path; mysql: host, port, database, table, user, password, socket")
    st.set_defaults(func=backend_set)
    se = bsub.add_parser("select", help="the backend statistics are read from")
    se.add_argument("name", choices=("sqlite", "csv", "mysql"))
    se.set_defaults(func=lambda args, ctl: ctl.call("cdrbackend.select", {"name": args.name}) and print(
        f"statistics now read from {args.name}"))
    ss = bsub.add_parser("stats", help="call totals from the statistics backend")
    ss.set_defaults(func=lambda args, ctl: print(json.dumps(ctl.call("cdrbackend.stats"), indent=2)))


def backend_list(args, ctl) -> int:
    rows = ctl.call("cdrbackend.list")
    if args.json:
        ctl.print_json(rows)
    else:
        ctl.print_table(rows, COLUMNS)
    return 0


def backend_set(args, ctl) -> int:
    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise ControlError(f"--option {item!r}: expected KEY=VALUE")
        options[key.strip()] = value
    row = ctl.call("cdrbackend.set", {"name": args.name, "enabled": args.enabled, "options": options})
    print(f"{row['name']}: {'enabled' if row['enabled'] else 'disabled'}")
    return 0
