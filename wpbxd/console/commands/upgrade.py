"""``wpbxctl upgrade status|check|install|confirm|repo`` (seed: "Mise à niveau du système")."""

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upgrade", help="system upgrade (signed bundles, A/B slots)")
    usub = p.add_subparsers(dest="action", required=True)

    st = usub.add_parser("status", help="running version, slots, the last upgrade's result")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=status)

    c = usub.add_parser("check", help="is a newer version in a bundle file or a repository?")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", help="a bundle (.wpbx)")
    src.add_argument("--repository", help="a repository name (see 'upgrade repo list')")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=check)

    i = usub.add_parser("install", help="install a bundle into the inactive slot and reboot into it")
    i.add_argument("file", nargs="?", help="a bundle (.wpbx); or use --repository")
    i.add_argument("--repository", help="install the newest version of this repository")
    i.add_argument("--backup", action="store_true",
                   help="make a backup first when none was made in the last hour")
    i.add_argument("--no-reboot", action="store_true", help="do not reboot when installed")
    i.set_defaults(func=install)

    cf = usub.add_parser("confirm", help="mark a trial boot of a new version as good")
    cf.set_defaults(func=lambda args, ctl: print(ctl.call("upgrade.confirm")["message"]) or 0)

    r = usub.add_parser("repo", help="named update repositories (like rel40)")
    rsub = r.add_subparsers(dest="repo_action", required=True)
    rl = rsub.add_parser("list")
    rl.add_argument("--json", action="store_true")
    rl.set_defaults(func=lambda args, ctl: ctl.output(args, ctl.call("upgrade.repo.list"), ("name", "location")) or 0)
    ra = rsub.add_parser("add")
    ra.add_argument("name")
    ra.add_argument("location", help="a directory holding bundles")
    ra.set_defaults(func=lambda args, ctl: print(
        "repository {name} -> {location}".format(**ctl.call("upgrade.repo.add", {
            "name": args.name, "location": args.location}))) or 0)
    rd = rsub.add_parser("del")
    rd.add_argument("name")
    rd.set_defaults(func=lambda args, ctl: print(
        f"deleted repository {ctl.call('upgrade.repo.del', {'name': args.name})['name']}") or 0)


def status(args, ctl) -> int:
    info = ctl.call("upgrade.status")
    if args.json:
        ctl.print_json(info)
        return 0
    print(f"version {info['version']}")
    if "running_slot" in info:
        slots = ", ".join(f"{s.upper()}: {v}" for s, v in sorted(info["slots"].items()))
        print(f"slot {info['running_slot'].upper()} running, {info['active_slot'].upper()} confirmed"
              + (f", trial of {info['trial_slot'].upper()} pending" if info["trial_slot"] else "")
              + (f" ({slots})" if slots else ""))
        if info["last_result"]:
            print(f"last upgrade: {info['last_result']}")
    progress = info["progress"]
    if progress["state"] != "idle":
        print(f"upgrade {progress['state']}: {progress['step']} {progress['percent']}% {progress['message']}")
    return 0


def check(args, ctl) -> int:
    request = {"file": str(Path(args.file).resolve())} if args.file else {"repository": args.repository}
    info = ctl.call("upgrade.check", request)
    if args.json:
        ctl.print_json(info)
    elif info["available"]:
        print(f"version {info['version']} is available ({info['file']})")
    else:
        print(info["message"])
    return 0


def install(args, ctl) -> int:
    if not args.file and not args.repository:
        print("wpbxctl: give a bundle file or --repository NAME", file=sys.stderr)
        return 2
    request = {"backup": args.backup, "reboot": not args.no_reboot}
    if args.file:
        request["file"] = str(Path(args.file).resolve())
    else:
        request["repository"] = args.repository
    started = ctl.call("upgrade.install", request)
    print(f"installing {started['version']} into slot {started['slot'].upper()} (backup {started['backup']})",
          flush=True)
    last = None
    for event in ctl.stream("upgrade.follow"):
        line = f"{event['state']}: {event['step']} {event['percent']}%"
        if line != last:
            print(line, flush=True)
            last = line
        if event["state"] == "failed":
            print(f"wpbxctl: upgrade failed: {event['message']}", file=sys.stderr)
            return 1
    return 0
