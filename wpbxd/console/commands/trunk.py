"""``wpbxctl trunk add|list|show|set|del``, ``trunk group ...``, ``pricelist ...``, ``show trunks``.

``show trunks`` joins the ``show`` command of ``sip.py``: this module's name sorts
after it, so the ``show`` sub-command exists when ``register`` runs here.
"""

import argparse
from pathlib import Path

from wpbxd.console.client import ControlError

COLUMNS = ("name", "title", "host", "login", "register", "keepalive", "procedure", "country_code")
STATUS_COLUMNS = ("name", "status", "registered_to", "registered_from", "calls", "last_error")
FIELDS = {
    "title": "description of the trunk",
    "host": "provider host[:port], or 'dynamic' for a peer that registers to us",
    "login": "authentication login",
    "password": "authentication password",
    "from_user": "user of the From header (default: the login)",
    "domain": "provider domain (From/To/Request-URI host)",
    "procedure": "dialplan procedure for incoming calls (default main)",
    "country_code": "country code, for number normalisation",
    "keepalive": "seconds between keep-alive OPTIONS (0 off)",
    "register_expires": "registration time asked of the provider (s)",
    "called_from": "incoming called number from the Request-URI (ruri) or the To header (to)",
    "max_calls": "simultaneous calls (0 unlimited)",
    "price_list": "price list for the cost of outgoing calls",
}


def _options(p: argparse.ArgumentParser) -> None:
    for field, text in FIELDS.items():
        p.add_argument("--" + field.replace("_", "-"), dest=field, help=text)
    p.add_argument("--register", dest="register", action="store_true", default=None,
                   help="register to the provider")
    p.add_argument("--no-register", dest="register", action="store_false", help="do not register")


def _values(args: argparse.Namespace) -> dict:
    out = {f: getattr(args, f) for f in FIELDS if getattr(args, f, None) is not None}
    if args.register is not None:
        out["register"] = args.register
    return out


def _subcommands(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse._SubParsersAction:
    """The sub-commands of an existing top-level command (``show``), or a new one."""
    parser = sub.choices.get(name)
    if parser is None:
        parser = sub.add_parser(name, help=help_text)
        return parser.add_subparsers(dest="what", required=True)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError(f"'{name}' has no sub-commands")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trunk", help="manage SIP trunks and trunk groups")
    tsub = p.add_subparsers(dest="action", required=True)
    a = tsub.add_parser("add", help="add a SIP trunk")
    a.add_argument("--name", required=True)
    _options(a)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=lambda args, ctl: _show(args, ctl, ctl.call("trunk.add", {"name": args.name,
                                                                                   **_values(args)})))
    ls = tsub.add_parser("list", help="list trunks")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=lambda args, ctl: ctl.output(args, ctl.call("trunk.list"), COLUMNS))
    sh = tsub.add_parser("show", help="show one trunk")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=lambda args, ctl: _show(args, ctl, ctl.call("trunk.show", {"name": args.name})))
    st = tsub.add_parser("set", help="change a trunk's fields")
    st.add_argument("name")
    st.add_argument("--new-name")
    _options(st)
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=lambda args, ctl: _show(args, ctl, ctl.call(
        "trunk.set", {"name": args.name, "new_name": args.new_name, **_values(args)})))
    d = tsub.add_parser("del", help="delete a trunk")
    d.add_argument("name")
    d.set_defaults(func=lambda args, ctl: print(f"deleted trunk {ctl.call('trunk.del', {'name': args.name})['name']}"))

    g = tsub.add_parser("group", help="trunk groups (least-cost routing with failover)")
    gsub = g.add_subparsers(dest="group_action", required=True)
    gs = gsub.add_parser("set", help="create or replace a group: --member TRUNK[,strip=N][,add=DIGITS]"
                                     "[,max=N][,delay=S] in order")
    gs.add_argument("name")
    gs.add_argument("--member", action="append", required=True, dest="members")
    gs.add_argument("--json", action="store_true")
    gs.set_defaults(func=group_set)
    gl = gsub.add_parser("list", help="list groups")
    gl.add_argument("--json", action="store_true")
    gl.set_defaults(func=group_list)
    gd = gsub.add_parser("del", help="delete a group")
    gd.add_argument("name")
    gd.set_defaults(func=lambda args, ctl: ctl.call("trunkgroup.del", {"name": args.name}) or print("deleted"))

    pl = sub.add_parser("pricelist", help="price lists for call costs")
    psub = pl.add_subparsers(dest="action", required=True)
    pi = psub.add_parser("import", help="import (or replace) a price list from the seed's CSV columns")
    pi.add_argument("name")
    pi.add_argument("file", type=Path)
    pi.set_defaults(func=pricelist_import)
    pls = psub.add_parser("list", help="list price lists")
    pls.add_argument("--json", action="store_true")
    pls.set_defaults(func=lambda args, ctl: ctl.output(args, ctl.call("pricelist.list"),
                                                       ("name", "rows", "imported_at")))
    ps = psub.add_parser("show", help="the rates of a price list")
    ps.add_argument("name")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=lambda args, ctl: ctl.output(
        args, ctl.call("pricelist.show", {"name": args.name})["rates"],
        ("dialprefix", "destination", "rate", "min_duration", "billing_block", "connect_charge", "start_day",
         "stop_day", "start_time", "stop_time")))
    pd = psub.add_parser("del", help="delete a price list")
    pd.add_argument("name")
    pd.set_defaults(func=lambda args, ctl: ctl.call("pricelist.del", {"name": args.name}) or print("deleted"))

    show = _subcommands(sub, "show", "show registrations, calls, bans or trunks")
    tr = show.add_parser("trunks", help="trunks with their live status")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=lambda args, ctl: ctl.output(args, ctl.call("trunks.status"), STATUS_COLUMNS))


def _show(args, ctl, trunk: dict) -> int:
    if getattr(args, "json", False):
        ctl.print_json(trunk)
    else:
        for key, value in trunk.items():
            print(f"{key}: {'' if value is None else value}")
    return 0


def _member(text: str) -> dict:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ControlError("--member needs a trunk name")
    member: dict = {"trunk": parts[0]}
    keys = {"strip": "strip", "add": "prepend", "prepend": "prepend", "max": "max_calls", "delay": "delay"}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key not in keys:
            raise ControlError(f"--member {text!r}: unknown option {key!r} (strip, add, max, delay)")
        member[keys[key]] = value
    return member


def group_set(args, ctl) -> int:
    group = ctl.call("trunkgroup.set", {"name": args.name, "members": [_member(m) for m in args.members]})
    if args.json:
        ctl.print_json(group)
    else:
        print(f"trunk group {group['name']}: " + ", ".join(m["trunk"] for m in group["members"]))
    return 0


def group_list(args, ctl) -> int:
    groups = ctl.call("trunkgroup.list")
    if args.json:
        ctl.print_json(groups)
        return 0
    rows = [{"name": g["name"], "members": " > ".join(
        f"{m['trunk']}(strip {m['strip']}, add '{m['prepend']}', max {m['max_calls']}, delay {m['delay']:g}s)"
        for m in g["members"])} for g in groups]
    ctl.print_table(rows, ("name", "members"))
    return 0


def pricelist_import(args, ctl) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ControlError(f"cannot read {args.file}: {err}") from None
    result = ctl.call("pricelist.import", {"name": args.name, "csv": text})
    print(f"price list {result['name']}: {result['rows']} rates imported")
    return 0
