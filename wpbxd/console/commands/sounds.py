"""``wpbxctl sounds list|upload|record|delete`` and ``wpbxctl voicemail list|subscribe|unsubscribe``
(seed: "Enregistrement et lecture des messages audios", "Boîte vocale partagée")."""

import argparse
import base64
from pathlib import Path

from wpbxd.console.client import ControlError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sounds", help="sounds played by the PBX (IVR prompts, announcements)")
    ssub = p.add_subparsers(dest="action", required=True)
    ls = ssub.add_parser("list", help="the uploaded sounds")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_)
    up = ssub.add_parser("upload", help="add or replace a sound from an mp3, wav or alaw file")
    up.add_argument("name", help="the sound's name in the dialplan")
    up.add_argument("file", type=Path)
    up.set_defaults(func=upload)
    rec = ssub.add_parser("record", help="the PBX calls EXTENSION; speak after the beep, hang up to save")
    rec.add_argument("name", help="the sound's name in the dialplan")
    rec.add_argument("extension", help="the phone to call")
    rec.set_defaults(func=record)
    rm = ssub.add_parser("delete", help="delete an uploaded sound")
    rm.add_argument("name")
    rm.set_defaults(func=delete)

    v = sub.add_parser("voicemail", help="voicemail boxes")
    vsub = v.add_subparsers(dest="action", required=True)
    vl = vsub.add_parser("list", help="messages in a box")
    vl.add_argument("extension")
    vl.add_argument("--json", action="store_true")
    vl.set_defaults(func=voicemail_list)
    for name, text in (("subscribe", "also mail USER the messages of MAILBOX (shared voicemail)"),
                       ("unsubscribe", "stop a shared voicemail subscription")):
        s = vsub.add_parser(name, help=text)
        s.add_argument("user", help="the subscriber's extension")
        s.add_argument("mailbox", help="the shared box's extension")
        s.set_defaults(func=subscription, command=f"voicemail.{name}")


def list_(args, ctl) -> int:
    ctl.output(args, ctl.call("sounds.list"), ("name", "seconds"))
    return 0


def upload(args, ctl) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as err:
        raise ControlError(f"cannot read {args.file}: {err}") from None
    info = ctl.call("sounds.upload", {"name": args.name, "filename": args.file.name,
                                      "data": base64.b64encode(data).decode()})
    print(f"sound {info['name']}: {info['seconds']} s")
    return 0


def record(args, ctl) -> int:
    call = ctl.call("sounds.record", {"name": args.name, "extension": args.extension})
    print(f"calling {args.extension} to record {args.name} (call {call['call_id']})")
    return 0


def delete(args, ctl) -> int:
    ctl.call("sounds.delete", {"name": args.name})
    print(f"deleted sound {args.name}")
    return 0


def voicemail_list(args, ctl) -> int:
    ctl.output(args, ctl.call("voicemail.list", {"extension": args.extension}),
               ("id", "caller", "caller_name", "seconds", "heard"))
    return 0


def subscription(args, ctl) -> int:
    ctl.call(args.command, {"user": args.user, "mailbox": args.mailbox})
    print("done")
    return 0
