"""Dialplan pages (seed: "Fonctionnement du Dialplan"): procedures, called numbers,
applications and their order, included procedures, switches, and the trace form.

Every change is a ``dialplan.*`` / ``switch.*`` control command, i.e. the dialplan
service functions; no routing rule lives here. Only shown when the dialplan
service runs (its ``dialplan.trace`` command exists).
"""

import json
from typing import Any
from urllib.parse import quote

import bottle

from wpbxd.errors import UserError, ValidationError
from wpbxd.telephony.dialplan.model import STRATEGIES, SWITCH_STATES
from wpbxd.telephony.dialplan.timeranges import DAYS
from wpbxd.web.kit import Kit

FEATURE = "dialplan.trace"


def parse_params(text: str) -> dict[str, Any]:
    """Application parameters from a JSON object or ``key=value`` lines."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as err:
            raise ValidationError(f"is not a JSON object ({err})", "params") from None
        if not isinstance(value, dict):
            raise ValidationError("must be a JSON object", "params")
        return value
    params: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"line {number}: write key=value", "params")
        raw = raw.strip()
        try:
            value = json.loads(raw)
            params[key.strip()] = value if isinstance(value, int | float | bool | list) else raw
        except ValueError:
            params[key.strip()] = raw
    return params


def show_params(params: dict[str, Any]) -> str:
    return "\n".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in params.items())


def grid_text(weekly: dict[str, list[list[str]]]) -> str:
    """The weekly grid in the console's short form (one clause per day)."""
    return "; ".join(f"{day} " + ",".join(f"{a}-{b}" for a, b in weekly[day])
                     for day in DAYS if weekly.get(day))


def hour_cells(weekly: dict[str, list[list[str]]]) -> list[tuple[str, list[bool]]]:
    """For each day, which of the 24 hours an opening interval touches."""
    def minutes(text: str) -> int:
        hh, _, mm = text.partition(":")
        return int(hh) * 60 + int(mm or 0)

    rows = []
    for day in DAYS:
        spans = [(minutes(a), minutes(b)) for a, b in weekly.get(day, [])]
        rows.append((day, [any(lo < (h + 1) * 60 and hi > h * 60 for lo, hi in spans) for h in range(24)]))
    return rows


def parse_intervals(text: str) -> list[list[str]]:
    """``09:00-12:00,14:00-18:00`` -> [["09:00", "12:00"], ...]; empty means closed."""
    out = []
    for span in filter(None, (p.strip() for p in text.split(","))):
        start, dash, end = span.partition("-")
        if not dash:
            raise ValidationError(f"{span!r}: want HH:MM-HH:MM", "open")
        out.append([start.strip(), end.strip()])
    return out


def install(app: bottle.Bottle, kit: Kit) -> None:
    env, page, render, flash = kit.env, kit.page, kit.render, kit.flash
    def form() -> bottle.FormsDict:
        return bottle.request.forms.decode()

    def need_feature() -> None:
        env.call("help")  # raises FeatureMissing when there is no control at all
        if FEATURE not in env.commands():
            from wpbxd.web.features import FeatureMissing

            raise FeatureMissing("the dialplan is not available")

    def overview(problem: dict[str, str] | None = None, values: dict[str, str] | None = None) -> str:
        need_feature()
        procs = env.call("dialplan.list")
        switches = env.call("switch.list") if "switch.list" in env.commands() else []
        return render("dialplan", "Dialplan", "dialplan", procedures=procs, switches=switches, switch_states=SWITCH_STATES,
                      problem=problem or {}, values=values or {})

    @app.get("/dialplan")
    @page
    def dialplan_home() -> str:
        return overview()

    @app.post("/dialplan")
    @page
    def dialplan_add() -> str:
        need_feature()
        f = form()
        values = {"name": f.get("name", ""), "description": f.get("description", "")}
        try:
            env.call("dialplan.add", values)
        except UserError as err:
            bottle.response.status = 400
            return overview({getattr(err, "field", None) or "name": getattr(err, "message", str(err))}, values)
        flash(f"Procedure {values['name']} added.")
        bottle.redirect(f"/dialplan/p/{quote(values['name'])}", 303)

    @app.post("/dialplan/switch")
    @page
    def switch_set() -> str:
        need_feature()
        f = form()
        name, action = f.get("name", ""), f.get("action", "set")
        try:
            if action == "add":
                env.call("switch.add", {"name": name, "states": f.get("states", "2")})
                message = f"Switch {name} added."
            elif action == "delete":
                env.call("switch.del", {"name": name})
                message = f"Switch {name} deleted."
            else:
                env.call("switch.set", {"name": name, "state": f.get("state", "")})
                message = f"Switch {name} is now {f.get('state', '')}."
        except UserError as err:
            bottle.response.status = 400
            field = getattr(err, "field", None)
            key = "switch_" + (field if field in ("name", "states") else "name") if action == "add" else "switch"
            return overview({key: getattr(err, "message", str(err))}, {"switch_name": name})
        flash(message)
        bottle.redirect("/dialplan", 303)

    def detail(name: str, problem: dict[str, str] | None = None,
               values: dict[str, str] | None = None) -> str:
        need_feature()
        proc = env.call("dialplan.show", {"name": name})
        others = [p["name"] for p in env.call("dialplan.list") if p["name"] != name]
        apps = env.call("dialplan.apps")
        return render("procedure", f"Procedure {name}", "dialplan", proc=proc, others=others,
                      apps=apps, problem=problem or {}, values=values or {},
                      show_params=show_params, quote=quote)

    @app.get("/dialplan/p/<name>")
    @page
    def procedure(name: str) -> str:
        return detail(name)

    ACTIONS = ("set", "includes", "delete", "entry_add", "entry_del", "app_add", "app_del", "app_up",
               "app_down")

    @app.post("/dialplan/p/<name>")
    @page
    def procedure_change(name: str) -> str:
        need_feature()
        f = form()
        action = f.get("action", "")
        if action not in ACTIONS:
            bottle.abort(400, "unknown action")
        pattern = f.get("pattern", "")
        target = name
        try:
            if action == "set":
                new_name = f.get("new_name", "").strip()
                env.call("dialplan.set", {"name": name, "new_name": new_name if new_name != name else None,
                                          "description": f.get("description", "")})
                target = new_name or name
                message = "Procedure saved."
            elif action == "includes":
                env.call("dialplan.includes", {"name": name, "includes": f.getall("includes")})
                message = "Included procedures saved."
            elif action == "delete":
                env.call("dialplan.del", {"name": name})
                flash(f"Procedure {name} deleted.")
                bottle.redirect("/dialplan", 303)
            elif action == "entry_add":
                apps = []
                if f.get("app"):
                    apps.append({"app": f.get("app"), "params": parse_params(f.get("params", ""))})
                env.call("dialplan.entry.add", {"procedure": name, "pattern": pattern, "apps": apps})
                message = f"Number {pattern} added."
            elif action == "entry_del":
                env.call("dialplan.entry.del", {"procedure": name, "pattern": pattern})
                message = f"Number {pattern} deleted."
            elif action == "app_add":
                env.call("dialplan.app.add", {"procedure": name, "pattern": pattern, "app": f.get("app", ""),
                                              "params": parse_params(f.get("params", ""))})
                message = f"Application added to {pattern}."
            elif action == "app_del":
                env.call("dialplan.app.del", {"procedure": name, "pattern": pattern, "index": f.get("index")})
                message = "Application removed."
            else:
                index = int(f.get("index", "0") or 0)
                to = index - 1 if action == "app_up" else index + 1
                env.call("dialplan.app.move", {"procedure": name, "pattern": pattern, "index": index, "to": to})
                message = "Applications reordered."
        except (UserError, ValueError) as err:
            field = getattr(err, "field", None) or "_"
            bottle.response.status = 400
            return detail(name, {"form": f"{action}:{pattern}", field: getattr(err, "message", str(err))},
                          {k: f.get(k, "") for k in ("pattern", "app", "params", "new_name", "description")})
        flash(message)
        bottle.redirect(f"/dialplan/p/{quote(target)}", 303)

    # --- call groups (seed: "Groupes d'appel") ---
    def groups_page(problem: dict[str, str] | None = None, values: dict[str, str] | None = None) -> str:
        need_feature()
        groups = env.call("callgroup.list")
        edit = bottle.request.query.decode().get("edit", "")
        if values is None:
            values = {"name": "", "strategy": STRATEGIES[0], "ring_time": "", "timeout": "",
                      "ring_in_use": "", "members": ""}
            for g in groups:
                if g["name"] == edit:
                    values = {"name": g["name"], "strategy": g["strategy"],
                              "ring_time": "" if g["ring_time"] is None else str(g["ring_time"]),
                              "timeout": "" if g["timeout"] is None else str(g["timeout"]),
                              "ring_in_use": "1" if g["ring_in_use"] else "",
                              "members": ", ".join(m["extension"] + (f":{m['ring_time']}" if m["ring_time"] else "")
                                                   for m in g["members"])}
        return render("callgroups", "Call groups", "dialplan", groups=groups, values=values,
                      problem=problem or {}, strategies=STRATEGIES)

    @app.get("/dialplan/groups")
    @page
    def groups() -> str:
        return groups_page()

    @app.post("/dialplan/groups")
    @page
    def groups_change() -> str:
        need_feature()
        f = form()
        if f.get("delete"):
            try:
                env.call("callgroup.del", {"name": f.get("delete")})
            except UserError as err:
                bottle.response.status = 400
                return groups_page({"_": str(err)})
            flash(f"Call group {f.get('delete')} deleted.")
            bottle.redirect("/dialplan/groups", 303)
        values = {k: f.get(k, "") for k in ("name", "strategy", "ring_time", "timeout", "ring_in_use", "members")}
        members = [m for m in values["members"].replace(";", ",").replace(" ", ",").split(",") if m]
        args = {"name": values["name"], "strategy": values["strategy"], "ring_in_use": bool(values["ring_in_use"]),
                "members": members}
        for key in ("ring_time", "timeout"):
            if values[key].strip():
                args[key] = values[key].strip()
        try:
            env.call("callgroup.set", args)
        except UserError as err:
            bottle.response.status = 400
            return groups_page({getattr(err, "field", None) or "name": getattr(err, "message", str(err))}, values)
        flash(f"Call group {values['name']} saved.")
        bottle.redirect("/dialplan/groups", 303)

    # --- time ranges (seed: "Plages horaires") ---
    def ranges_page(problem: dict[str, str] | None = None, values: dict[str, str] | None = None) -> str:
        need_feature()
        ranges = env.call("timerange.list")
        edit = bottle.request.query.decode().get("edit", "")
        if values is None:
            values = {"name": "", "weekly": ""}
            for r in ranges:
                if r["name"] == edit:
                    values = {"name": r["name"], "weekly": grid_text(r["weekly"])}
        return render("timeranges", "Time ranges", "dialplan", ranges=ranges, values=values,
                      problem=problem or {}, cells=hour_cells)

    @app.get("/dialplan/timeranges")
    @page
    def ranges() -> str:
        return ranges_page()

    @app.post("/dialplan/timeranges")
    @page
    def ranges_change() -> str:
        need_feature()
        f = form()
        action = f.get("action", "")
        name = f.get("name", "")
        try:
            if action == "delete":
                env.call("timerange.del", {"name": name})
                message = f"Time range {name} deleted."
            elif action == "exception":
                env.call("timerange.exception", {"name": name, "date": f.get("date", ""),
                                                 "open": parse_intervals(f.get("open", ""))})
                message = f"Exception {f.get('date', '')} saved in {name}."
            else:
                env.call("timerange.set", {"name": name, "weekly": f.get("weekly", "")})
                message = f"Time range {name} saved."
        except UserError as err:
            bottle.response.status = 400
            field = getattr(err, "field", None) or "_"
            key = f"{action}:{name}" if action in ("exception", "delete") else field
            return ranges_page({key: getattr(err, "message", str(err))},
                               {"name": name, "weekly": f.get("weekly", "")} if action == "set" else None)
        flash(message)
        bottle.redirect("/dialplan/timeranges", 303)

    @app.get("/dialplan/trace")
    @page
    def trace() -> str:
        need_feature()
        q = bottle.request.query.decode()
        values = {k: q.get(k, "") for k in ("from", "to", "procedure", "at")}
        result, errors = None, {}
        if values["from"] or values["to"]:
            try:
                result = env.call("dialplan.trace", {k: v for k, v in values.items() if v})
            except UserError as err:
                errors[getattr(err, "field", None) or "_"] = getattr(err, "message", str(err))
        procs = [("", "the caller's own")] + [(p["name"], p["name"]) for p in env.call("dialplan.list")]
        return render("trace", "Dialplan trace", "dialplan", values=values, result=result,
                      errors=errors, procs=procs)
