"""``wpbxctl status``, ``reload``, ``settings get|set``."""

import argparse
import json

USER_COLUMNS = ("extension", "name", "type", "email", "department", "acl_group", "dialplan")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="daemon status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status)

    p = sub.add_parser("reload", help="reload the configuration (like SIGHUP)")
    p.set_defaults(func=lambda args, ctl: print(ctl.call("reload")))

    p = sub.add_parser("settings", help="read or change settings")
    ssub = p.add_subparsers(dest="action", required=True)
    g = ssub.add_parser("get")
    g.add_argument("key", nargs="?")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=settings_get)
    s = ssub.add_parser("set")
    s.add_argument("key")
    s.add_argument("value")
    s.set_defaults(func=settings_set)


def status(args, ctl) -> int:
    result = ctl.call("status")
    if args.json:
        ctl.print_json(result)
        return 0
    for key, value in result.items():
        if isinstance(value, list):
            print(f"{key}:")
            for item in value:
                print(f"  {item}")
        elif isinstance(value, dict):
            print(f"{key}: {json.dumps(value)}")
        else:
            print(f"{key}: {value}")
    return 0


def settings_get(args, ctl) -> int:
    result = ctl.call("settings.get", {"key": args.key})
    if args.json:
        ctl.print_json(result)
    else:
        for key, value in result.items():
            print(f"{key} = {json.dumps(value)}")
    return 0


def settings_set(args, ctl) -> int:
    try:
        value = json.loads(args.value)
    except ValueError:
        value = args.value
    for key, stored in ctl.call("settings.set", {"key": args.key, "value": value}).items():
        print(f"{key} = {json.dumps(stored)}")
    return 0
