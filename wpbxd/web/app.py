"""The admin web UI: Bottle routes turning forms into service-function calls.

Rule 1: no configuration rule lives here. Validation, uniqueness and password
policy are the service functions' (``wpbxd.config``); access rules are
``access.py``'s. A page only collects form values, calls them, and shows the
result or the error next to its field with the submitted values kept.
Rule 2: every POST carries the session's CSRF token (403 otherwise); every page
but the login page needs a session of an admin; an admin flagged *must change*
sees only the password page.
Rule 3: a section is shown only when its feature is running (``WebEnv.commands``).
This module holds the session machinery, the menus, sign-in and the own-password
page; each section's pages live in a ``*_pages`` module.
"""

import logging
import secrets
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import bottle

from wpbxd import __version__
from wpbxd.config import passwords, settings, users
from wpbxd.config.users import User
from wpbxd.errors import NotFound, UserError
from wpbxd.web import (
    access,
    api,
    backup_pages,
    call_pages,
    console_pages,
    dialplan_pages,
    forms,
    network_pages,
    originate_pages,
    power_pages,
    sessions,
    settings_pages,
    sound_pages,
    system_pages,
    trunk_pages,
    upgrade_pages,
    user_pages,
)
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import Kit, WebEnv, form, query

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
VIEWS = str(HERE / "views")
STATIC = str(HERE / "static")
SESSION_COOKIE = "wpbx_session"
LOGIN_COOKIE = "wpbx_login"
PORTS_TTL = 5.0  # seconds the blocked-ports reading (from /proc/net) is reused
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; media-src 'self';"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def make_app(env: WebEnv) -> bottle.Bottle:  # noqa: C901 - one closure per route keeps env local
    app = bottle.Bottle()
    app.catchall = True
    store, bus = env.store, env.bus

    def now() -> float:
        return env.clock()

    def idle() -> float:
        return float(settings.get(store, "web.session_idle"))

    def cookie(name: str, value: str, max_age: int | None = None) -> None:
        extra: dict[str, Any] = {} if max_age is None else {"max_age": max_age}
        bottle.response.set_cookie(
            name, value, path="/", httponly=True, secure=env.secure_cookies, samesite="strict",
            **extra,
        )

    def remote() -> str:
        return bottle.request.environ.get("REMOTE_ADDR", "")

    @app.hook("after_request")
    def _headers() -> None:
        for name, value in SECURITY_HEADERS.items():
            bottle.response.headers.setdefault(name, value)
        if env.secure_cookies:
            bottle.response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")

    # --- sessions and page wrapper ---
    def current() -> tuple[sessions.Session, User] | None:
        token = bottle.request.get_cookie(SESSION_COOKIE) or ""
        sess = sessions.lookup(store, token, now(), idle())
        if sess is None:
            return None
        try:
            user = users.get_user(store, sess.user_id)
        except NotFound:
            sessions.destroy(store, sess)
            return None
        if not access.may_sign_in(user):
            sessions.destroy(store, sess)
            return None
        return sess, user

    def page(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            found = current()
            if found is None:
                target = bottle.request.fullpath
                bottle.redirect("/login?" + urlencode({"next": target}), 303)
            sess, user = found
            if bottle.request.method == "POST":
                submitted = bottle.request.forms.get("csrf") or ""
                if not sessions.csrf_ok(sess, submitted):
                    bottle.abort(403, "The form's security token is missing or wrong: reload the page and try again.")
            if user.must_change_password and bottle.request.path not in ("/password", "/logout",
                                                                           "/password/generate"):
                bottle.redirect("/password", 303)
            bottle.request.environ["wpbx.session"] = sess
            bottle.request.environ["wpbx.user"] = user
            try:
                return fn(*args, **kwargs)
            except access.Forbidden as err:
                bottle.abort(403, str(err))
            except NotFound as err:
                bottle.abort(404, str(err))
            except FeatureMissing as err:
                bottle.abort(404, str(err))
        wrapper.__name__ = fn.__name__
        return wrapper

    def me() -> User:
        return bottle.request.environ["wpbx.user"]

    def sess() -> sessions.Session:
        return bottle.request.environ["wpbx.session"]

    def flash(message: str) -> None:
        sessions.set_flash(store, sess(), message)

    def nav() -> list[tuple[str, str, str]]:
        """(label, href, section) of the menus, only for features that exist."""
        cmds = env.commands()
        main = [("Users", "/users", "users")]
        if trunk_pages.FEATURE in cmds:
            main.append(("Trunks", "/trunks", "trunks"))
        if "dhcp.device.list" in cmds:
            main.append(("Devices", "/devices", "devices"))
        if "dialplan.trace" in cmds:
            main.append(("Dialplan", "/dialplan", "dialplan"))
        main.append(("Settings", "/settings/pbx", "settings"))
        tools = []
        if "net.ports" in cmds:
            ports = env.cached("net.ports", PORTS_TTL)
            if ports.get("status") in ("red", "yellow"):
                tools.append((f"Blocked ports ({ports['status']})", "/ports", "ports"))
        if "bans.list" in cmds and me().is_super_admin and env.call("bans.list"):
            tools.append(("SIP bans", "/bans", "bans"))
        tools.append(("Info", "/info", "info"))
        if originate_pages.FEATURE in cmds:
            tools.append(("Generate call", "/generate-call", "generate"))
        if sound_pages.available():
            tools.append(("Sounds", "/sounds", "sounds"))
        if call_pages.cdr_feature(env):
            tools.append(("Calls", "/calls", "calls"))
        if "calls.list" in cmds:
            tools.append(("Debug", "/debug", "debug"))
        if me().is_super_admin:
            tools += [("Console", "/console", "console"), ("Reboot / Shutdown", "/power", "power")]
        return main + [("|", "", "")] + tools

    def render(tpl: str, title: str, section: str = "", **kw: Any) -> str:
        user = bottle.request.environ.get("wpbx.user")
        message = sessions.pop_flash(store, sess()) if user else ""
        return bottle.template(
            tpl, template_lookup=[VIEWS], title=title, section=section, me=user,
            nav=nav() if user and not user.must_change_password else [],
            csrf=sess().csrf if user else "", flash=message, version=__version__,
            forms=forms, **kw,
        )

    # --- static, errors ---
    @app.get("/static/<path:path>")
    def static(path: str) -> Any:
        resp = bottle.static_file(path, root=STATIC)
        resp.set_header("Cache-Control", "max-age=3600")
        return resp

    def error_page(err: bottle.HTTPError) -> str:
        bottle.response.content_type = "text/html; charset=utf-8"
        return bottle.template(
            "error", template_lookup=[VIEWS], title=f"{err.status_code}", status=err.status_line,
            message=str(err.body or ""), nav=[], me=None, csrf="", flash="", section="",
            version=__version__, forms=forms,
        )

    for code in (400, 403, 404, 405, 429, 500):
        app.error(code)(error_page)

    @app.get("/")
    def root() -> None:
        bottle.redirect("/users", 303)

    # --- login / logout / own password ---
    @app.route("/login", method=["GET", "POST"])
    def login() -> str:
        q = query()
        target = q.get("next") or "/users"
        if not target.startswith("/") or target.startswith("//"):
            target = "/users"
        values = {"login": "", "error": "", "next": target}
        token = bottle.request.get_cookie(LOGIN_COOKIE) or ""
        if bottle.request.method == "POST":
            f = form()
            values["login"] = f.get("login", "")
            submitted = f.get("csrf", "")
            if not token or not sessions.csrf_ok(sessions.Session("", 0, token, ""), submitted):
                bottle.abort(403, "The login form's security token is missing or wrong: reload the page.")
            params = settings.get_all(store)
            env.throttle.max_failures = int(params["web.login_max_failures"])
            env.throttle.lockout = float(params["web.login_lockout"])
            wait = env.throttle.retry_after(remote(), now())
            if wait > 0:
                bottle.response.status = 429
                bottle.response.set_header("Retry-After", str(int(wait) + 1))
                values["error"] = f"Too many failed logins from your address: try again in {int(wait) + 1} s."
            else:
                user = users.check_web_password(store, f.get("login", "").strip(), f.get("password", ""))
                if user is None or not access.may_sign_in(user):
                    env.throttle.failure(remote(), now())
                    values["error"] = ("Wrong login or password." if user is None
                                       else "This user has no access to the administration.")
                else:
                    env.throttle.success(remote())
                    sessions.purge(store, now(), idle())  # forget sessions that timed out unseen
                    session_token, _ = sessions.create(store, user.id, now(), remote())
                    cookie(SESSION_COOKIE, session_token)
                    cookie(LOGIN_COOKIE, "", max_age=0)
                    bottle.redirect("/password" if user.must_change_password else target, 303)
        if not token:
            token = secrets.token_urlsafe(sessions.TOKEN_BYTES)
            cookie(LOGIN_COOKIE, token)
        return bottle.template("login", template_lookup=[VIEWS], title="Sign in", nav=[], me=None,
                               csrf=token, flash="", section="", version=__version__,
                               forms=forms, **values)

    @app.post("/logout")
    @page
    def logout() -> None:
        sessions.destroy(store, sess())
        cookie(SESSION_COOKIE, "", max_age=0)
        bottle.redirect("/login", 303)

    @app.get("/password/generate")
    @page
    def generate() -> str:
        bottle.response.content_type = "text/plain; charset=utf-8"
        return passwords.generate()

    @app.route("/password", method=["GET", "POST"])
    @page
    def own_password() -> str:
        user = me()
        errors: dict[str, str] = {}
        values = {"current": "", "new": "", "email": user.email or ""}
        shown = False
        if bottle.request.method == "POST":
            f = form()
            values = {k: f.get(k, "") for k in values}
            if f.get("generate"):
                values["new"], shown = passwords.generate(), True
            else:
                if users.check_web_password(store, str(user.id), values["current"]) is None:
                    errors["current"] = "is not your current password"
                problems = passwords.policy_problems(values["new"])
                if problems:
                    errors["new"] = "password " + "; ".join(problems)
                if values["new"] and values["new"] == values["current"]:
                    errors.setdefault("new", "must differ from the current password")
                if not errors:
                    try:
                        with store.transaction():
                            if (values["email"] or None) != user.email:
                                users.update_user(store, bus, user.id, {"email": values["email"]})
                            users.set_passwords(store, bus, user.id, web_password=values["new"])
                    except UserError as err:
                        name, message = forms.error_field(err, ("email", "web_password"))
                        errors[{"web_password": "new"}.get(name or "", name or "_")] = message
                    else:
                        sessions.destroy_for_user(store, user.id, keep=sess())
                        flash("Password changed.")
                        bottle.redirect("/users", 303)
        return render("password", "Change your password", "users", user=user, values=values,
                      errors=errors, shown=shown, forced=user.must_change_password)

    def setting_groups() -> list[tuple[str, str]]:
        return settings_pages.section_groups(env)

    kit = Kit(env=env, page=page, render=render, flash=flash, me=me, session=sess, now=now,
              idle=idle, groups=setting_groups)
    for module in (user_pages, call_pages, system_pages, settings_pages, dialplan_pages, network_pages,
                   sound_pages, originate_pages, backup_pages, upgrade_pages, trunk_pages, console_pages, power_pages):
        module.install(app, kit)
    app.mount("/api/v1/", api.make_api(env))
    return app


def redirect_app(https_port: int) -> Callable:
    """A WSGI app that sends every plain-HTTP request to the HTTPS address."""

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        if host.startswith("["):
            host = host[: host.find("]") + 1]
        else:
            host = host.split(":", 1)[0]
        port = "" if https_port == 443 else f":{https_port}"
        path = environ.get("PATH_INFO", "/")
        query = environ.get("QUERY_STRING", "")
        location = f"https://{host}{port}{path}" + (f"?{query}" if query else "")
        body = f'<a href="{escape(location)}">{escape(location)}</a>'.encode()
        start_response("301 Moved Permanently", [
            ("Location", location), ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ])
        return [body]

    return app
