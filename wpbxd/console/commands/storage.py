"""``wpbxctl storage list|status|initialize|add-partition|rule`` (seed: "Services de stockage")."""

import argparse
import sys

from wpbxd.console.client import ControlError

MIB = 1024 * 1024


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("storage", help="USB storage devices")
    ssub = p.add_subparsers(dest="action", required=True)

    ls = ssub.add_parser("list", help="storage devices, partitions and usage")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_)

    st = ssub.add_parser("status", help="where the data areas are now")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=status)

    ini = ssub.add_parser("initialize", help="erase a device: one ext4 partition for the PBX")
    ini.add_argument("device", help="kernel name, e.g. sdb")
    ini.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    ini.set_defaults(func=initialize)

    add = ssub.add_parser("add-partition", help="add an ext4 partition in the free space")
    add.add_argument("device")
    add.add_argument("--size-mb", type=int, default=None, help="size (default: all the free space)")
    add.set_defaults(func=add_partition)

    sh = ssub.add_parser("share", help="network shares for backups (Windows/CIFS, NFS)")
    shsub = sh.add_subparsers(dest="share_action", required=True)
    sl = shsub.add_parser("list")
    sl.add_argument("--json", action="store_true")
    sl.set_defaults(func=share_list)
    sa = shsub.add_parser("add")
    sa.add_argument("name")
    sa.add_argument("--kind", choices=("cifs", "nfs"), required=True)
    sa.add_argument("--server", required=True)
    sa.add_argument("--path", required=True, help="share name (cifs) or exported path (nfs)")
    sa.add_argument("--username", default="")
    sa.add_argument("--password", default="")
    sa.add_argument("--options", default="", help="extra mount options, comma-separated")
    sa.set_defaults(func=share_add)
    sd = shsub.add_parser("del")
    sd.add_argument("name")
    sd.set_defaults(func=lambda args, ctl: print(f"deleted share {ctl.call('storage.share.del', {'share': args.name})['name']}"))
    st = shsub.add_parser("test", help="mount, write, read back, unmount")
    st.add_argument("name")
    st.set_defaults(func=lambda args, ctl: print(ctl.call("storage.share.test", {"share": args.name})))

    rule = ssub.add_parser("rule", help="which devices count as storage: usb or name:GLOB")
    rule.add_argument("rule", nargs="?")
    rule.set_defaults(func=set_rule)


def _size(value) -> str:
    return "" if value is None else f"{value / MIB:.0f} MiB"


def list_(args, ctl) -> int:
    result = ctl.call("storage.list")
    if args.json:
        ctl.print_json(result)
        return 0
    print(f"storage: {result['status']['where']}")
    rows = []
    for disk in result["disks"]:
        rows.append({"device": disk["path"], "size": _size(disk["size"]), "table": disk["table"] or "none",
                     "fs": "", "label": disk["model"], "usage": "", "mounted": ""})
        for part in disk["partitions"]:
            usage = f"{100 * part['used'] / part['total']:.0f}% of {_size(part['total'])}" if part["total"] else ""
            rows.append({"device": f"  {part['path']}", "size": _size(part["size"]), "table": "",
                         "fs": part["fstype"] or "", "label": part["label"] or "", "usage": usage,
                         "mounted": part["mountpoint"] or ""})
    ctl.print_table(rows, ("device", "size", "table", "fs", "label", "usage", "mounted"))
    return 0


def status(args, ctl) -> int:
    result = ctl.call("storage.status")
    if args.json:
        ctl.print_json(result)
    else:
        print(result["where"])
    return 0


def _follow(ctl, cmd: str, request: dict) -> int:
    for item in ctl.stream(cmd, request):
        if "error" in item:
            raise ControlError(item["error"])
        if item.get("done"):
            print(f"[100%] done: {item.get('result')}")
            return 0
        print(f"[{item['percent']:3d}%] {item['step']}", flush=True)
    raise ControlError("the daemon stopped answering")


def initialize(args, ctl) -> int:
    device = args.device.removeprefix("/dev/")
    if not args.yes:
        if not sys.stdin.isatty():
            print("wpbxctl: initializing erases the device; add --yes", file=sys.stderr)
            return 2
        if input(f"Erase everything on /dev/{device}? Type its name ({device}) to confirm: ").strip() != device:
            print("cancelled; nothing changed")
            return 1
    return _follow(ctl, "storage.initialize", {"device": device, "confirm": device})


def add_partition(args, ctl) -> int:
    return _follow(ctl, "storage.add_partition", {"device": args.device, "size_mb": args.size_mb})


def set_rule(args, ctl) -> int:
    print(ctl.call("storage.rule", {"rule": args.rule} if args.rule else {}))
    return 0


def share_list(args, ctl) -> int:
    ctl.output(args, ctl.call("storage.share.list"), ("name", "kind", "server", "path", "username", "options"))
    return 0


def share_add(args, ctl) -> int:
    share = ctl.call("storage.share.add", {"name": args.name, "kind": args.kind, "server": args.server,
                                           "path": args.path, "username": args.username,
                                           "password": args.password, "options": args.options})
    print(f"share {share['name']} added ({share['kind']} {share['server']} {share['path']})")
    return 0
