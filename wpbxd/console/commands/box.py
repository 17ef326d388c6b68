"""``wpbxctl box``: the box's recovery code (its label) and the serial boot menu's countdown."""

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("box", help="recovery code and boot menu countdown")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=info)
    bsub = p.add_subparsers(dest="action")
    c = bsub.add_parser("countdown", help="seconds the serial boot menu waits (0: no boot menu)")
    c.add_argument("seconds", type=int)
    c.set_defaults(func=countdown)


def info(args, ctl) -> int:
    result = ctl.call("box.info")
    if args.json:
        ctl.print_json(result)
    else:
        print(f"recovery code: {result['recovery_code']}")
        print(f"boot menu countdown: {result['boot_countdown']} s")
        print(f"software: wpbx {result['version']}")
    return 0


def countdown(args, ctl) -> int:
    print(f"boot menu countdown: {ctl.call('box.boot_countdown', {'seconds': args.seconds})} s")
    return 0
