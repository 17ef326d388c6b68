"""``wpbxctl backup create|list|verify|restore`` (seed: "Créer une sauvegarde du système")."""

import argparse
import sys
import time

COLUMNS = ("name", "size", "created")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="system backups")
    bsub = p.add_subparsers(dest="action", required=True)

    c = bsub.add_parser("create", help="write a backup archive to the backups area")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=create)

    ls = bsub.add_parser("list", help="backups in the backups area")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_)

    v = bsub.add_parser("verify", help="check an archive without restoring it")
    v.add_argument("backup", help="a name from 'backup list' or an absolute path")
    v.set_defaults(func=verify)

    r = bsub.add_parser("restore", help="replace configuration and data with a backup's")
    r.add_argument("backup", help="a name from 'backup list' or an absolute path")
    r.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    r.set_defaults(func=restore)


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


def create(args, ctl) -> int:
    info = ctl.call("backup.create")
    if args.json:
        ctl.print_json(info)
    else:
        print(f"backup {info['name']} written ({info['files']} files, {info['size']} bytes)")
    return 0


def list_(args, ctl) -> int:
    rows = ctl.call("backup.list")
    if not args.json:
        rows = [{**r, "created": _when(r["created"])} for r in rows]
    ctl.output(args, rows, COLUMNS)
    return 0


def verify(args, ctl) -> int:
    result = ctl.call("backup.verify", {"backup": args.backup})
    print(f"{result['backup']}: good ({result['files']} files, made {_when(result['created'])} "
          f"by wpbx {result['software']})")
    return 0


def restore(args, ctl) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            print("wpbxctl: restore replaces all configuration and data; add --yes", file=sys.stderr)
            return 2
        answer = input(f"Restore {args.backup}? All current configuration and data are replaced. Type yes: ")
        if answer.strip() != "yes":
            print("cancelled; nothing changed")
            return 1
    result = ctl.call("backup.restore", {"backup": args.backup})
    print(f"restored {result['files']} files from {args.backup}")
    return 0
