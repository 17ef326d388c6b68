"""Settings pages: the typed settings by section (``settings.SETTINGS``, all saved
or none), the SMTP profile with its Test, and the API tokens.
"""

import datetime
from typing import Any

import bottle

from wpbxd.config import settings, users
from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.web import tokens
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import Kit, WebEnv, form

SETTING_GROUPS = {
    "pbx": ("Language & region", None),
    "web": ("Web access", None),
    "sip": ("SIP", "registrations.list"),
    "dialplan": ("Dialplan general", "dialplan.trace"),
    "media": ("SIP-RTP media", "calls.list"),
}


def section_groups(env: WebEnv) -> list[tuple[str, str]]:
    """The Settings sections whose feature runs, in menu order."""
    cmds = env.commands()
    groups = [(g, t) for g, (t, need) in SETTING_GROUPS.items() if need is None or need in cmds]
    if "smtp.set" in cmds:
        groups.append(("smtp", "Email (SMTP)"))
    if "net.show" in cmds:
        groups.append(("network", "Network"))
    if "backup.create" in cmds:
        groups.append(("backup", "Backup"))
    if "cdrbackend.list" in cmds:
        groups.append(("cdr-backends", "CDR backends"))
    if "upgrade.install" in cmds:
        groups.append(("update", "Update"))
    return groups


def install(app: bottle.Bottle, kit: Kit) -> None:
    env = kit.env
    store = kit.env.store
    bus = kit.env.bus
    page = kit.page
    render = kit.render
    flash = kit.flash
    me = kit.me
    now = kit.now

    def setting_groups() -> list[tuple[str, str]]:
        return section_groups(env)

    SMTP_FIELDS = ("sender", "server", "port", "security", "username", "password", "helo", "verify_tls")

    @app.route("/settings/smtp", method=["GET", "POST"])
    @page
    def smtp_page() -> str:
        if "smtp.set" not in env.commands():
            raise FeatureMissing("the SMTP profile is not available")
        profile = env.call("smtp.show")
        values = {k: profile.get(k, "") for k in SMTP_FIELDS}
        values["password"] = ""
        errors: dict[str, str] = {}
        test_to, test_result = "", ""
        if bottle.request.method == "POST":
            f = form()
            if f.get("action") == "test":
                test_to = f.get("to", "")
                try:
                    test_result = str(env.call("smtp.test", {"to": test_to}))
                except UserError as err:
                    errors["to"] = getattr(err, "message", str(err))
            else:
                values = {k: f.get(k, "") for k in SMTP_FIELDS}
                values["verify_tls"] = bool(f.get("verify_tls"))
                changes: dict[str, Any] = dict(values)
                if not changes["password"]:
                    changes.pop("password")  # empty keeps the stored password
                try:
                    env.call("smtp.set", {"values": changes})
                except ValidationError as err:
                    errors[err.field if err.field in SMTP_FIELDS else "_"] = err.message
                else:
                    flash("Email (SMTP) profile saved.")
                    bottle.redirect("/settings/smtp", 303)
                values["password"] = ""
        return render("smtp", "Email (SMTP)", "settings", groups=setting_groups(), group="smtp",
                      values=values, errors=errors, has_password=profile.get("password") != "",
                      test_to=test_to, test_result=test_result)

    @app.route("/settings/<group>", method=["GET", "POST"])
    @page
    def settings_page(group: str) -> str:
        groups = dict(setting_groups())
        if group not in groups:
            raise NotFound(f"no settings section {group!r}")
        keys = [k for k in settings.SETTINGS if k.startswith(group + ".")]
        values = {k: settings.get(store, k) for k in keys}
        errors: dict[str, str] = {}
        if bottle.request.method == "POST":
            f = form()
            values = {k: f.get(k, "") for k in keys}
            checked = {}
            for k in keys:
                try:
                    checked[k] = settings.SETTINGS[k].check(values[k])
                except ValidationError as err:
                    errors[k] = err.message
            if not errors:
                with store.transaction():
                    for k, v in checked.items():
                        settings.set_value(store, bus, k, v)
                flash(f"{groups[group]} saved.")
                bottle.redirect(f"/settings/{group}", 303)
        return render("settings", groups[group], "settings", group=group, groups=setting_groups(),
                      keys=keys, values=values, errors=errors, specs=settings.SETTINGS)

    @app.route("/settings/api-tokens", method=["GET", "POST"])
    @page
    def api_tokens() -> str:
        error, created, name = "", "", ""
        mine = None if me().is_super_admin else me().id
        if bottle.request.method == "POST":
            f = form()
            if f.get("revoke"):
                try:
                    tokens.revoke(store, int(f.get("revoke")), mine)
                except (ValueError, NotFound):
                    bottle.abort(404, "no such token")
                flash("Token revoked.")
                bottle.redirect("/settings/api-tokens", 303)
            name = f.get("name", "")
            try:
                created = tokens.create(store, me().id, name, now())
                name = ""
            except ValidationError as err:
                error = err.message
        owners = {u.id: u.login or u.name for u in users.list_users(store) if u.type == "admin"}
        return render("api_tokens", "API tokens", "settings", groups=setting_groups(), group="api-tokens",
                      items=tokens.list_tokens(store, mine), owners=owners, error=error,
                      created=created, name=name, fmt_time=lambda t: datetime.datetime.fromtimestamp(
                          t, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC") if t else "never")
