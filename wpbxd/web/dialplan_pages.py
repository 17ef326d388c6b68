"""Dialplan pages (seed: "Fonctionnement du Dialplan"): procedures, called numbers,
applications and their order, included procedures, switches, and the trace form.

Every change is a ``dialplan.*`` / ``switch.*`` control command, i.e. the dialplan
service functions; no routing rule lives here. Only shown when the dialplan
service runs (its ``dialplan.trace`` command exists).
"""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import bottle

from wpbxd.errors import UserError, ValidationError
from wpbxd.telephony.dialplan.model import SWITCH_STATES

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


def install(app: bottle.Bottle, env: Any, page: Callable, render: Callable, flash: Callable) -> None:
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
    def switch_set() -> None:
        need_feature()
        f = form()
        try:
            env.call("switch.set", {"name": f.get("name", ""), "state": f.get("state", "")})
        except UserError as err:
            flash(f"Switch not changed: {err}")
        else:
            flash(f"Switch {f.get('name', '')} is now {f.get('state', '')}.")
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
