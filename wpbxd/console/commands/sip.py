"""``wpbxctl show registrations|calls|bans [--json]``, ``show calls --follow``, ``unban IP``, ``cdr list``,
``call EXTENSION NUMBER`` (seed item 9, *Générer un appel*)."""

import argparse
import time
from datetime import datetime

REG_COLUMNS = ("aor", "contact", "source", "expires_in", "user_agent")
CALL_COLUMNS = ("id", "state", "caller", "called", "callee", "duration", "codec")
BAN_COLUMNS = ("address", "since", "remaining", "failures", "reason")
CDR_COLUMNS = ("start", "caller_number", "callee_number", "disposition", "duration", "billsec",
               "hangup_side", "hangup_cause", "codec")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="show registrations, calls or bans")
    what = p.add_subparsers(dest="what", required=True)
    r = what.add_parser("registrations", help="registered SIP contacts")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=show_registrations)
    c = what.add_parser("calls", help="calls in progress")
    c.add_argument("--json", action="store_true")
    c.add_argument("--follow", action="store_true", help="stream call events and dialplan trace lines")
    c.set_defaults(func=show_calls)
    b = what.add_parser("bans", help="addresses banned after failed authentications")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=show_bans)

    u = sub.add_parser("unban", help="lift the ban of an address")
    u.add_argument("address")
    u.set_defaults(func=lambda args, ctl: print(ctl.call("bans.unban", {"address": args.address})) or 0)

    g = sub.add_parser("call", help="ring EXTENSION; when it answers, dial NUMBER from it (76: echo test)")
    g.add_argument("extension", help="the phone that rings first")
    g.add_argument("number", help="the number dialled once it answers")
    g.add_argument("--procedure", help="the dialplan procedure (default: the extension's own)")
    g.set_defaults(func=generate_call)

    cdr = sub.add_parser("cdr", help="call detail records")
    csub = cdr.add_subparsers(dest="action", required=True)
    ls = csub.add_parser("list", help="the newest call records")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cdr_list)


def _when(stamp: float | None) -> str:
    return "" if stamp is None else datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def show_registrations(args, ctl) -> int:
    ctl.output(args, ctl.call("registrations.list"), REG_COLUMNS)
    return 0


def show_calls(args, ctl) -> int:
    if not args.follow:
        ctl.output(args, ctl.call("calls.list"), CALL_COLUMNS)
        return 0
    try:
        for event in ctl.stream("calls.follow"):
            if args.json:
                ctl.print_json(event)
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(event.get("time", time.time())))
                print(f"{stamp} [{event.get('call_id') or '-'}] {event.get('text', '')}", flush=True)
    except KeyboardInterrupt:
        pass
    return 0


def generate_call(args, ctl) -> int:
    call = ctl.call("calls.originate", {"extension": args.extension, "number": args.number,
                                        "procedure": args.procedure or ""})
    print(f"ringing {args.extension}, then {args.number} (call {call['call_id']})")
    return 0


def show_bans(args, ctl) -> int:
    rows = ctl.call("bans.list")
    if not args.json:
        rows = [{**r, "since": _when(r["banned_at"]), "remaining": f"{r['remaining']} s"} for r in rows]
    ctl.output(args, rows, BAN_COLUMNS)
    return 0


def cdr_list(args, ctl) -> int:
    rows = ctl.call("cdr.list", {"limit": args.limit})
    if not args.json:
        rows = [{**r, "start": _when(r["start_time"])} for r in rows]
    ctl.output(args, rows, CDR_COLUMNS)
    return 0
