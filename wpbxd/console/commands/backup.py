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

    sc = bsub.add_parser("schedule", help="scheduled backups (daily, weekly, monthly)")
    ssub = sc.add_subparsers(dest="schedule_action", required=True)
    sl = ssub.add_parser("list")
    sl.add_argument("--json", action="store_true")
    sl.set_defaults(func=schedule_list)
    sa = ssub.add_parser("add", help="add a schedule")
    sa.add_argument("--frequency", choices=("daily", "weekly", "monthly"), default="daily")
    sa.add_argument("--at", default="02:00", help="HH:MM in the PBX time zone")
    sa.add_argument("--weekday", type=int, default=0, help="0 = Monday (weekly)")
    sa.add_argument("--monthday", type=int, default=1, help="1-28 (monthly)")
    sa.add_argument("--target", choices=("local", "ftp", "share", "email"), default="local")
    sa.add_argument("--keep", type=int, default=7, help="archives to keep at the target")
    sa.add_argument("--ftp-host")
    sa.add_argument("--ftp-port", type=int, default=21)
    sa.add_argument("--ftp-user")
    sa.add_argument("--ftp-password")
    sa.add_argument("--ftp-dir")
    sa.add_argument("--share", help="a share name from 'storage share list'")
    sa.add_argument("--email-to", help="address the backups are mailed to (email target; SMTP profile)")
    sa.add_argument("--json", action="store_true")
    sa.set_defaults(func=schedule_add)
    sd = ssub.add_parser("del")
    sd.add_argument("id")
    sd.set_defaults(func=lambda args, ctl: print(f"deleted schedule {ctl.call('backup.schedule.del', {'id': args.id})['id']}"))
    sr = ssub.add_parser("run", help="run a schedule now")
    sr.add_argument("id")
    sr.set_defaults(func=schedule_run)


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


SCHEDULE_COLUMNS = ("id", "frequency", "hour", "minute", "target", "keep", "enabled", "last_result")


def schedule_list(args, ctl) -> int:
    ctl.output(args, ctl.call("backup.schedule.list"), SCHEDULE_COLUMNS)
    return 0


def schedule_add(args, ctl) -> int:
    hour, _, minute = args.at.partition(":")
    request = {"frequency": args.frequency, "hour": hour, "minute": minute or "0", "weekday": args.weekday,
               "monthday": args.monthday, "target": args.target, "keep": args.keep,
               "ftp_host": args.ftp_host, "ftp_port": args.ftp_port, "ftp_user": args.ftp_user,
               "ftp_password": args.ftp_password, "ftp_dir": args.ftp_dir, "share": args.share,
               "email_to": args.email_to}
    result = ctl.call("backup.schedule.add", request)
    if args.json:
        ctl.print_json(result)
    else:
        print(f"schedule {result['id']}: {result['frequency']} at {result['hour']:02d}:{result['minute']:02d}"
              f" to {result['target']}, keeping {result['keep']}")
    return 0


def schedule_run(args, ctl) -> int:
    result = ctl.call("backup.schedule.run", {"id": args.id})
    print(result)
    return 0 if result.startswith("ok") else 1
