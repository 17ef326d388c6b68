"""Trunks pages (seed: "Configuration du Trunk"): the trunk list with its live
status, add / edit / delete, trunk groups, price lists (CSV import, show, delete,
attach to a trunk) and Settings > CDR backends.

Every read and change is a control command of the trunk service (``trunk.*``,
``trunkgroup.*``, ``pricelist.*``), of the SIP service (``trunks.status``) or of
the CDR backend service (``cdrbackend.*``); their validation errors are shown next
to the field. One exception, read only: a price list's rates are paged straight
from the store (``pricelist.show`` returns every row). This module holds no trunk
rule, writes nothing itself and imports no service object.
"""

import datetime
from typing import Any

import bottle

from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.web import forms
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import PAGE_SIZE, Kit, WebEnv, form, query

FEATURE = "trunk.list"
STATUS_COMMAND = "trunks.status"
CDR_FEATURE = "cdrbackend.list"
MAX_PRICE_FILE = 16 * 1024 * 1024  # bytes of a price-list upload
RATE_COLUMNS = ("dialprefix", "destination", "rate", "min_duration", "billing_block", "connect_charge",
                "start_day", "stop_day", "start_time", "stop_time")
GROUP_MEMBER_ROWS = 4  # member lines offered by the trunk-group form
TRUNK_FIELDS = ("name", "title", "login", "from_user", "domain", "host", "password", "procedure",
                "country_code", "keepalive", "register", "register_expires", "called_from", "max_calls",
                "price_list")
MEMBER_FIELDS = ("trunk", "strip", "prepend", "max_calls", "delay")
LABELS = {
    "name": "Trunk name", "title": "Title", "login": "Login", "from_user": "From user",
    "domain": "Provider domain", "host": "Host[:port] or 'dynamic'", "password": "Password",
    "procedure": "Incoming calls procedure", "country_code": "Country code",
    "keepalive": "Keep-alive (seconds between OPTIONS, 0 off)", "register": "Register to the provider",
    "register_expires": "Registration expiry (s)", "called_from": "Called number read from",
    "max_calls": "Simultaneous calls (0 unlimited)", "price_list": "Price list",
}
CDR_OPTION_LABELS = {
    "path": "CSV file (absolute path; empty: data folder)", "host": "MySQL server", "port": "Port",
    "database": "Database", "table": "Table", "user": "User", "password": "Password",
    "socket": "Unix socket (instead of server and port)",
}
CDR_OPTIONS = {"sqlite": (), "csv": ("path",),
               "mysql": ("host", "port", "database", "table", "user", "password", "socket")}


def feature(env: WebEnv) -> bool:
    return FEATURE in env.commands()


def cdr_feature(env: WebEnv) -> bool:
    return CDR_FEATURE in env.commands()


def status_text(row: dict[str, Any] | None) -> tuple[str, str]:
    """(css class, words) of a trunk's live status row from ``trunks.status``."""
    if row is None:
        return "off", "not running"
    state = str(row.get("status") or "")
    error = str(row.get("last_error") or "")
    if state == "registered":
        where = row.get("registered_from") or row.get("registered_to") or ""
        words = f"registered from {where}" if row.get("registered_from") else f"registered to {where}"
        if row.get("expires_in") is not None:
            words += f" (expires in {row['expires_in']} s)"
        return "on", words
    if state == "up":
        return "on", "up" + (f" via {row['target']}" if row.get("target") else "")
    if state == "failed":
        return "bad", "failed" + (f": {error}" if error else "")
    if state == "down":
        return "bad", "down" + (f": {error}" if error else "")
    return "off", state + (f": {error}" if error else "")


def _when(stamp: float | None) -> str:
    if not stamp:
        return ""
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def install(app: bottle.Bottle, kit: Kit) -> None:  # noqa: C901 - one closure per route
    env, page, render, flash = kit.env, kit.page, kit.render, kit.flash
    store = env.store

    def need() -> None:
        if not feature(env):
            raise FeatureMissing("trunks are not available")

    def procedures() -> list[tuple[str, str]]:
        return [(r["name"], r["name"]) for r in store.all("SELECT name FROM procedures ORDER BY name")]

    def price_options() -> list[tuple[str, str]]:
        return [("", "(none)")] + [(p["name"], p["name"]) for p in env.call("pricelist.list") or []]

    def live() -> dict[str, dict[str, Any]]:
        if STATUS_COMMAND not in env.commands():
            return {}
        return {row["name"]: row for row in env.call(STATUS_COMMAND) or []}

    @app.get("/trunks")
    @page
    def trunk_list() -> str:
        need()
        running = live()
        rows = [(t, *status_text(running.get(t["name"]) if running else None), running.get(t["name"], {}))
                for t in env.call("trunk.list") or []]
        groups = env.call("trunkgroup.list") if "trunkgroup.list" in env.commands() else []
        return render("trunks", "Trunks", "trunks", rows=rows, groups=groups, live=bool(running) or
                      STATUS_COMMAND in env.commands())

    def trunk_form(current: dict[str, Any] | None) -> str:
        need()
        values: dict[str, Any] = {k: "" for k in TRUNK_FIELDS}
        values.update(procedure="main", keepalive="0", register_expires="300", called_from="ruri", max_calls="0")
        if current is not None:
            values.update({k: "" if current.get(k) is None else current[k] for k in TRUNK_FIELDS})
            values["password"] = ""
        errors: dict[str, str] = {}
        if bottle.request.method == "POST":
            f = form()
            values = {k: f.get(k, "").strip() if k != "password" else f.get(k, "") for k in TRUNK_FIELDS}
            values["register"] = bool(f.get("register"))
            args: dict[str, Any] = {**values, "register": "1" if values["register"] else "0"}
            try:
                if current is None:
                    env.call("trunk.add", args)
                else:
                    args["new_name"], args["name"] = args["name"], current["name"]
                    if not args["password"]:
                        args["password"] = None  # empty keeps the stored password
                    env.call("trunk.set", args)
            except UserError as err:
                field, message = forms.error_field(err, TRUNK_FIELDS)
                errors[field or "_"] = message
                bottle.response.status = 400
            else:
                flash(f"Trunk {values['name']} saved.")
                bottle.redirect("/trunks", 303)
            values["password"] = ""
        title = "Add a trunk" if current is None else f"Trunk {current['name']}"
        return render("trunk_form", title, "trunks", values=values, errors=errors, labels=LABELS,
                      procedures=procedures(), price_lists=price_options(), creating=current is None,
                      has_password=bool(current and current.get("password")))

    @app.route("/trunks/new", method=["GET", "POST"])
    @page
    def trunk_new() -> str:
        return trunk_form(None)

    @app.route("/trunks/edit/<name>", method=["GET", "POST"])
    @page
    def trunk_edit(name: str) -> str:
        need()
        return trunk_form(env.call("trunk.show", {"name": name}))

    @app.route("/trunks/delete/<name>", method=["GET", "POST"])
    @page
    def trunk_delete(name: str) -> str:
        need()
        trunk = env.call("trunk.show", {"name": name})
        if bottle.request.method == "POST":
            env.call("trunk.del", {"name": trunk["name"]})
            flash(f"Trunk {trunk['name']} deleted.")
            bottle.redirect("/trunks", 303)
        groups = [g["name"] for g in (env.call("trunkgroup.list") if "trunkgroup.list" in env.commands() else [])
                  if any(m["trunk"] == trunk["name"] for m in g["members"])]
        return render("trunk_delete", f"Delete trunk {trunk['name']}", "trunks", trunk=trunk, groups=groups)

    # -- trunk groups ----------------------------------------------------------------
    @app.route("/trunks/groups", method=["GET", "POST"])
    @page
    def trunk_groups() -> str:
        need()
        if "trunkgroup.list" not in env.commands():
            raise FeatureMissing("trunk groups are not available")
        errors: dict[str, str] = {}
        name = ""
        members = [dict.fromkeys(MEMBER_FIELDS, "") for _ in range(GROUP_MEMBER_ROWS)]
        if bottle.request.method == "POST":
            f = form()
            if f.get("action") == "delete":
                group = f.get("name", "")
                env.call("trunkgroup.del", {"name": group})
                flash(f"Trunk group {group} deleted.")
                bottle.redirect("/trunks/groups", 303)
            name = f.get("name", "").strip()
            members = [{k: f.get(f"{k}{i}", "").strip() for k in MEMBER_FIELDS} for i in range(GROUP_MEMBER_ROWS)]
            chosen = [m for m in members if m["trunk"]]
            try:
                env.call("trunkgroup.set", {"name": name, "members": chosen})
            except ValidationError as err:
                errors[err.field if err.field in ("name", "members") else "_"] = err.message
                bottle.response.status = 400
            else:
                flash(f"Trunk group {name} saved.")
                bottle.redirect("/trunks/groups", 303)
        trunks = [("", "(none)")] + [(t["name"], t["name"]) for t in env.call("trunk.list") or []]
        return render("trunk_groups", "Trunk groups", "trunks", groups=env.call("trunkgroup.list") or [],
                      name=name, members=members, errors=errors, trunks=trunks)

    # -- price lists -----------------------------------------------------------------
    @app.route("/trunks/pricelists", method=["GET", "POST"])
    @page
    def price_lists() -> str:
        need()
        errors: dict[str, str] = {}
        name = ""
        if bottle.request.method == "POST":
            f = form()
            if f.get("action") == "delete":
                plist = f.get("name", "")
                env.call("pricelist.del", {"name": plist})
                flash(f"Price list {plist} deleted.")
                bottle.redirect("/trunks/pricelists", 303)
            name = f.get("name", "").strip()
            upload = bottle.request.files.get("file")
            raw = upload.file.read(MAX_PRICE_FILE + 1) if upload is not None else b""
            text = ""
            if not raw:
                errors["file"] = "choose a CSV file"
            elif len(raw) > MAX_PRICE_FILE:
                errors["file"] = f"the file is larger than {MAX_PRICE_FILE // (1024 * 1024)} MB"
            else:
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    errors["file"] = "the file is not UTF-8 text"
            if not errors:
                try:
                    result = env.call("pricelist.import", {"name": name, "csv": text})
                except ValidationError as err:
                    errors[err.field if err.field in ("name", "file") else "_"] = err.message
                else:
                    flash(f"Price list {result['name']} imported: {result['rows']} rate(s).")
                    bottle.redirect(f"/trunks/pricelists/{result['name']}", 303)
            bottle.response.status = 400
        lists = env.call("pricelist.list") or []
        used: dict[str, list[str]] = {}
        for t in env.call("trunk.list") or []:
            if t.get("price_list"):
                used.setdefault(t["price_list"], []).append(t["name"])
        return render("pricelists", "Price lists", "trunks", lists=lists, used=used, name=name,
                      errors=errors, when=_when)

    @app.get("/trunks/pricelists/<name>")
    @page
    def price_list(name: str) -> str:
        """One page of a list's rates, read straight from the store (``pricelist.show`` sends them all)."""
        need()
        head = store.one("SELECT name, rows FROM price_lists WHERE name = ?", (name,))
        if head is None:
            raise NotFound(f"no price list {name!r}")
        try:
            page_no = max(1, int(query().get("page", "1")))
        except ValueError:
            page_no = 1
        rates = store.all(f"SELECT line, {', '.join(RATE_COLUMNS)} FROM price_list_rates WHERE list_name = ?"
                          " ORDER BY line LIMIT ? OFFSET ?", (name, PAGE_SIZE, (page_no - 1) * PAGE_SIZE))
        total = head["rows"]
        return render("pricelist", f"Price list {head['name']}", "trunks", name=head["name"], rates=rates,
                      total=total, page_no=page_no, pages=max(1, -(-total // PAGE_SIZE)))

    # -- Settings > CDR backends -------------------------------------------------------
    @app.route("/settings/cdr-backends", method=["GET", "POST"])
    @page
    def cdr_backends() -> str:
        if not cdr_feature(env):
            raise FeatureMissing("CDR backends are not available")
        errors: dict[str, str] = {}
        submitted: dict[str, dict[str, Any]] = {}
        if bottle.request.method == "POST":
            f = form()
            backend = f.get("backend", "")
            if f.get("action") == "stats":
                try:
                    env.call("cdrbackend.select", {"name": backend})
                except ValidationError as err:
                    errors[f"{backend}.stats"] = err.message
                    bottle.response.status = 400
                else:
                    flash(f"Statistics are now read from {backend}.")
                    bottle.redirect("/settings/cdr-backends", 303)
            else:
                options = {k: f.get(k, "").strip() for k in CDR_OPTIONS.get(backend, ())}
                if "password" in options and not f.get("password"):
                    options.pop("password")  # empty keeps the stored password
                elif "password" in options:
                    options["password"] = f.get("password")
                if backend == "csv" and not options.get("path"):
                    options.pop("path", None)
                enabled = bool(f.get("enabled"))
                try:
                    env.call("cdrbackend.set", {"name": backend, "enabled": enabled, "options": options})
                except ValidationError as err:
                    key = err.field if err.field in CDR_OPTIONS.get(backend, ()) or err.field == "enabled" else "_"
                    errors[f"{backend}.{key}"] = err.message
                    submitted[backend] = {**options, "enabled": enabled, "password": ""}
                    bottle.response.status = 400
                else:
                    flash(f"CDR backend {backend} saved.")
                    bottle.redirect("/settings/cdr-backends", 303)
        backends = env.call("cdrbackend.list") or []
        for b in backends:
            if b["name"] in submitted:
                b["options"] = {**b["options"], **submitted[b["name"]]}
                b["enabled"] = submitted[b["name"]]["enabled"]
        stats: dict[str, Any] = {}
        stats_error = ""
        try:
            stats = env.call("cdrbackend.stats") or {}
        except UserError as err:
            stats_error = str(err)
        return render("cdr_backends", "CDR backends", "settings", groups=kit.groups(), group="cdr-backends",
                      backends=backends, errors=errors, labels=CDR_OPTION_LABELS, options=CDR_OPTIONS,
                      stats=stats, stats_error=stats_error)
