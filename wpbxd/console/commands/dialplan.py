"""``wpbxctl dialplan …`` (procedures, entries, applications, includes, trace, call
groups, time ranges, ACL groups, user call preferences), ``wpbxctl switch …`` and
``wpbxctl smtp …``. Thin: parse arguments, call the control socket, print."""

import argparse
import json

from wpbxd.console.client import ControlError


def _kv(pairs: list[str]) -> dict:
    """``key=value`` words -> dict (values stay text; the daemon validates them)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ControlError(f"{pair!r}: want key=value")
        out[key.replace("-", "_")] = value
    return out


def _print_procedure(proc: dict) -> None:
    print(f"procedure {proc['name']}" + (f" — {proc['description']}" if proc.get("description") else ""))
    if proc["includes"]:
        print(f"  includes: {', '.join(proc['includes'])}")
    if not proc["entries"]:
        print("  (no called numbers)")
    for entry in proc["entries"]:
        print(f"  {entry['pattern']}")
        for n, app in enumerate(entry["apps"], 1):
            params = " ".join(f"{k}={v}" for k, v in app["params"].items() if v not in (None, ""))
            print(f"    {n}. {app['app']} {params}".rstrip())


def _show(ctl, args, result) -> int:
    if getattr(args, "json", False):
        ctl.print_json(result)
    elif isinstance(result, dict) and "entries" in result:
        _print_procedure(result)
    elif isinstance(result, dict):
        for key, value in result.items():
            print(f"{key}: {value}")
    elif result is not None:
        print(result)
    return 0


def _call(cmd: str, build=lambda a: {}, columns=None):
    def run(args, ctl) -> int:
        result = ctl.call(cmd, build(args))
        if columns and isinstance(result, list):
            ctl.output(args, result, columns)
            return 0
        return _show(ctl, args, result)
    return run


def _parser(sub, name: str, help_: str, func, *arguments, json_flag: bool = True):
    p = sub.add_parser(name, help=help_)
    for spec in arguments:
        args, kwargs = spec if isinstance(spec, tuple) else ((spec,), {})
        p.add_argument(*args, **kwargs)
    if json_flag:
        p.add_argument("--json", action="store_true")
    p.set_defaults(func=func)
    return p


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("dialplan", help="dialplan procedures, call groups, time ranges, ACL, preferences, trace")
    ds = d.add_subparsers(dest="action", required=True)
    _parser(ds, "list", "list procedures", _call("dialplan.list", columns=("name", "entries", "includes",
                                                                            "description")))
    _parser(ds, "show", "show a procedure", _call("dialplan.show", lambda a: {"name": a.name}), "name")
    _parser(ds, "add", "add a procedure", _call("dialplan.add", lambda a: {"name": a.name,
                                                                         "description": a.description}),
            "name", (("--description",), {"default": ""}))
    _parser(ds, "rename", "rename a procedure (references follow)",
            _call("dialplan.set", lambda a: {"name": a.name, "new_name": a.new_name}), "name", "new_name")
    _parser(ds, "describe", "set a procedure's description",
            _call("dialplan.set", lambda a: {"name": a.name, "description": a.text}), "name", "text")
    _parser(ds, "del", "delete a procedure", _call("dialplan.del", lambda a: {"name": a.name}), "name")
    _parser(ds, "include", "set the included procedures, in order (none: clear)",
            _call("dialplan.includes", lambda a: {"name": a.name, "includes": a.included}),
            "name", (("included",), {"nargs": "*"}))
    _parser(ds, "apps", "list the applications", _call("dialplan.apps", columns=("name", "description")))

    e = ds.add_parser("entry", help="called numbers of a procedure")
    es = e.add_subparsers(dest="entry_action", required=True)
    _parser(es, "add", "add a called number (exact, pattern or default)",
            _call("dialplan.entry.add", lambda a: {"procedure": a.procedure, "pattern": a.pattern,
                                                   "position": a.position}),
            "procedure", "pattern", (("--position",), {"type": int}))
    _parser(es, "del", "delete a called number",
            _call("dialplan.entry.del", lambda a: {"procedure": a.procedure, "pattern": a.pattern}),
            "procedure", "pattern")

    a = ds.add_parser("app", help="applications of a called number")
    as_ = a.add_subparsers(dest="app_action", required=True)
    _parser(as_, "add", "append (or insert) an application: APP key=value ...",
            _call("dialplan.app.add", lambda x: {
                "procedure": x.procedure, "pattern": x.pattern, "app": x.app, "position": x.position,
                "params": {**_kv(x.params), **(json.loads(x.params_json) if x.params_json else {})}}),
            "procedure", "pattern", "app", (("params",), {"nargs": "*", "help": "key=value"}),
            (("--position",), {"type": int, "help": "1 is the first"}),
            (("--params-json",), {"help": "parameters as a JSON object"}))
    _parser(as_, "del", "delete application number INDEX (1 is the first)",
            _call("dialplan.app.del", lambda x: {"procedure": x.procedure, "pattern": x.pattern, "index": x.index}),
            "procedure", "pattern", (("index",), {"type": int}))
    _parser(as_, "move", "move application INDEX to position TO",
            _call("dialplan.app.move", lambda x: {"procedure": x.procedure, "pattern": x.pattern,
                                                  "index": x.index, "to": x.to}),
            "procedure", "pattern", (("index",), {"type": int}), (("to",), {"type": int}))

    t = _parser(ds, "trace", "show what a call would do, without placing it", trace,
                (("--from",), {"dest": "caller", "required": True, "help": "caller number or extension"}),
                (("--to",), {"dest": "called", "required": True, "help": "called number"}),
                (("--at",), {"help": "date and time, PBX time zone (e.g. '2026-12-01 20:00')"}),
                (("--procedure",), {"help": "start here (default: the caller's, or main)"}),
                (("--via-trunk",), {"help": "arrive through this trunk"}),
                (("--assume",), {"default": "answered", "choices": ("answered", "busy", "no-answer",
                                                                    "unavailable")}),
                (("--busy",), {"action": "append", "default": [], "help": "extension in a call"}),
                (("--offline",), {"action": "append", "default": [], "help": "extension not registered"}))
    t.description = "Runs the dialplan with a simulated call and prints every step and why."

    g = ds.add_parser("group", help="call groups")
    gs = g.add_subparsers(dest="group_action", required=True)
    _parser(gs, "list", "list call groups", _call("callgroup.list", columns=(
        "name", "strategy", "ring_time", "timeout", "ring_in_use", "members")))
    _parser(gs, "set", "create or change a call group",
            _call("callgroup.set", lambda x: {
                "name": x.name, "strategy": x.strategy, "ring_time": x.ring_time, "timeout": x.timeout,
                "ring_in_use": None if x.ring_in_use is None else x.ring_in_use == "on",
                "members": None if x.members is None else [m for m in x.members.split(",") if m]}),
            "name", (("--strategy",), {"choices": ("ringall", "linear", "roundrobin", "random", "leastrecent")}),
            (("--ring-time",), {"type": int}), (("--timeout",), {"type": int}),
            (("--ring-in-use",), {"choices": ("on", "off")}),
            (("--members",), {"help": "ordered extensions, EXT or EXT:SECONDS, comma separated"}))
    _parser(gs, "del", "delete a call group", _call("callgroup.del", lambda x: {"name": x.name}), "name")
    _parser(gs, "rename", "rename a call group (applications follow)",
            _call("callgroup.rename", lambda x: {"name": x.name, "new_name": x.new_name}), "name", "new_name")

    r = ds.add_parser("timerange", help="time ranges (opening hours)")
    rs = r.add_subparsers(dest="range_action", required=True)
    _parser(rs, "list", "list time ranges", _call("timerange.list"))
    _parser(rs, "set", "create or change a time range",
            _call("timerange.set", lambda x: {"name": x.name, "weekly": x.weekly}), "name",
            (("--weekly",), {"help": "opening hours, e.g. 'mon-fri 08:30-12:30,14:00-18:00; sat 09:00-12:00'"}))
    _parser(rs, "exception", "a dated exception: closed all day, or --open hours",
            _call("timerange.exception", lambda x: {
                "name": x.name, "date": x.date,
                "open": [s.split("-", 1) for s in (x.open or "").split(",") if s]}),
            "name", "date", (("--open",), {"help": "HH:MM-HH:MM[,HH:MM-HH:MM]"}))
    _parser(rs, "del", "delete a time range", _call("timerange.del", lambda x: {"name": x.name}), "name")
    _parser(rs, "rename", "rename a time range (applications follow)",
            _call("timerange.rename", lambda x: {"name": x.name, "new_name": x.new_name}), "name", "new_name")

    c = ds.add_parser("acl", help="ACL groups: the call classes their users may call")
    cs = c.add_subparsers(dest="acl_action", required=True)
    _parser(cs, "list", "list ACL groups", _call("acl.list", columns=("name", "allowed")))
    _parser(cs, "set", "set the allowed classes (internal national international mobile premium emergency)",
            _call("acl.set", lambda x: {"name": x.name, "allowed": x.classes}),
            "name", (("classes",), {"nargs": "*"}))

    p = ds.add_parser("prefs", help="a user's call preferences per call class")
    ps = p.add_subparsers(dest="prefs_action", required=True)
    _parser(ps, "show", "show a user's preferences", _call("prefs.show", lambda x: {"user": x.user}), "user")
    _parser(ps, "set", "set preferences: dnd=on fwd_always=NUMBER|VOICEMAIL fwd_busy= fwd_unavailable="
                       " call_waiting=off call_timeout=S mobility_delay=S|off missed_email=on",
            _call("prefs.set", lambda x: {"user": x.user, "class": x.call_class, "values": _kv(x.values)}),
            "user", (("values",), {"nargs": "+", "help": "key=value"}),
            (("--class",), {"dest": "call_class", "default": "all", "choices": ("internal", "external", "all")}))

    s = sub.add_parser("switch", help="dialplan switches")
    ss = s.add_subparsers(dest="action", required=True)
    _parser(ss, "list", "list switches", _call("switch.list", columns=("name", "states", "state")))
    _parser(ss, "add", "add a switch", _call("switch.add", lambda x: {"name": x.name, "states": x.states,
                                                                     "state": x.state}),
            "name", (("--states",), {"type": int, "default": 2, "choices": (2, 3)}),
            (("--state",), {"default": "off", "choices": ("on", "off", "extra")}))
    _parser(ss, "set", "change a switch's state", _call("switch.set", lambda x: {"name": x.name, "state": x.state}),
            "name", (("state",), {"choices": ("on", "off", "extra")}))
    _parser(ss, "del", "delete a switch", _call("switch.del", lambda x: {"name": x.name}), "name")
    _parser(ss, "rename", "rename a switch (applications follow)",
            _call("switch.rename", lambda x: {"name": x.name, "new_name": x.new_name}), "name", "new_name")

    m = sub.add_parser("smtp", help="the SMTP profile for mail notifications")
    ms = m.add_subparsers(dest="action", required=True)
    _parser(ms, "show", "show the SMTP profile", _call("smtp.show"))
    _parser(ms, "set", "change the SMTP profile",
            _call("smtp.set", lambda x: {"values": {k: getattr(x, k) for k in (
                "sender", "server", "port", "username", "password", "helo", "security", "verify_tls")
                if getattr(x, k) is not None}}),
            (("--sender",), {}), (("--server",), {}), (("--port",), {"type": int}), (("--username",), {}),
            (("--password",), {}), (("--helo",), {}), (("--security",), {"choices": ("none", "starttls", "tls")}),
            (("--verify-tls",), {"choices": ("on", "off")}))
    _parser(ms, "test", "send a test mail", _call("smtp.test", lambda x: {"to": x.to}), "to")


def trace(args, ctl) -> int:
    result = ctl.call("dialplan.trace", {
        "from": args.caller, "to": args.called, "at": args.at, "procedure": args.procedure,
        "via_trunk": args.via_trunk, "assume": args.assume, "busy": args.busy, "offline": args.offline})
    if args.json:
        ctl.print_json(result)
    else:
        for line in result["lines"]:
            print(line)
    return 0
