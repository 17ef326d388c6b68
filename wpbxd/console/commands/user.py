"""``wpbxctl user add|list|show|set|del|passwd|import|export``."""

import argparse
import sys
from pathlib import Path

from wpbxd.console.client import ControlError

COLUMNS = ("extension", "name", "type", "email", "department", "acl_group", "dialplan")
FIELDS = {
    "type": "user type: admin, user, fax, parkorbit, room",
    "name": "full name",
    "login": "login (AD integration, web login)",
    "extension": "extension number",
    "fax_did": "fax DID",
    "office_did": "office DID",
    "email": "email address (unique)",
    "mobility": "mobile number",
    "dialplan": "dialplan procedure (default users)",
    "fax_dialplan": "fax dialplan procedure",
    "language": "language code",
    "acl_group": "ACL group",
    "department": "department",
}


def _field_options(p: argparse.ArgumentParser) -> None:
    for field, text in FIELDS.items():
        p.add_argument("--" + field.replace("_", "-"), dest=field, help=text)


def _values(args: argparse.Namespace) -> dict:
    return {f: getattr(args, f) for f in FIELDS if getattr(args, f, None) is not None}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="manage users")
    usub = p.add_subparsers(dest="action", required=True)

    a = usub.add_parser("add", help="add a user")
    _field_options(a)
    a.add_argument("--sip-password")
    a.add_argument("--web-password")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=add)

    ls = usub.add_parser("list", help="list users")
    ls.add_argument("--search")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_)

    sh = usub.add_parser("show", help="show one user")
    sh.add_argument("ref", help="extension, login or id")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=show)

    st = usub.add_parser("set", help="change a user's fields")
    st.add_argument("ref")
    _field_options(st)
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=set_)

    d = usub.add_parser("del", help="delete a user")
    d.add_argument("ref")
    d.add_argument("--personal-data", action="store_true", help="also delete the user's call records")
    d.set_defaults(func=delete)

    pw = usub.add_parser("passwd", help="set a user's SIP and/or WEB password")
    pw.add_argument("ref")
    pw.add_argument("--sip-password")
    pw.add_argument("--web-password")
    pw.add_argument("--generate", action="store_true", help="generate compliant passwords and print them")
    pw.set_defaults(func=passwd)

    im = usub.add_parser("import", help="add users from a CSV file (all or none)")
    im.add_argument("file", type=Path)
    im.add_argument("--json", action="store_true")
    im.set_defaults(func=import_)

    ex = usub.add_parser("export", help="print the users as CSV")
    ex.set_defaults(func=lambda args, ctl: sys.stdout.write(ctl.call("user.export")))


def _show_one(args, ctl, user: dict) -> None:
    if args.json:
        ctl.print_json(user)
    else:
        for key, value in user.items():
            print(f"{key}: {'' if value is None else value}")


def add(args, ctl) -> int:
    user = ctl.call("user.add", {**_values(args), "sip_password": args.sip_password,
                                 "web_password": args.web_password})
    _show_one(args, ctl, user)
    return 0


def list_(args, ctl) -> int:
    ctl.output(args, ctl.call("user.list", {"search": args.search}), COLUMNS)
    return 0


def show(args, ctl) -> int:
    _show_one(args, ctl, ctl.call("user.show", {"ref": args.ref}))
    return 0


def set_(args, ctl) -> int:
    _show_one(args, ctl, ctl.call("user.set", {"ref": args.ref, **_values(args)}))
    return 0


def delete(args, ctl) -> int:
    user = ctl.call("user.del", {"ref": args.ref, "personal_data": args.personal_data})
    print(f"deleted user {user['extension'] or user['login']} ({user['name']})")
    return 0


def passwd(args, ctl) -> int:
    sip, web = args.sip_password, args.web_password
    if args.generate:
        sip = sip or ctl.call("password.generate")
        web = web or ctl.call("password.generate")
        print(f"sip_password: {sip}\nweb_password: {web}")
    ctl.call("user.passwd", {"ref": args.ref, "sip_password": sip, "web_password": web})
    print("passwords updated")
    return 0


def import_(args, ctl) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ControlError(f"cannot read {args.file}: {err}") from None
    users = ctl.call("user.import", {"csv": text})
    if args.json:
        ctl.print_json(users)
    else:
        print(f"imported {len(users)} users")
    return 0
