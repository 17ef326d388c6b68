"""The admin web UI: Bottle routes turning forms into service-function calls.

Rule 1: no configuration rule lives here. Validation, uniqueness and password
policy are the service functions' (``wpbxd.config``); access rules are
``access.py``'s. A page only collects form values, calls them, and shows the
result or the error next to its field with the submitted values kept.
Rule 2: every POST carries the session's CSRF token (403 otherwise); every page
but the login page needs a session of an admin; an admin flagged *must change*
sees only the password page.
Rule 3: a section is shown only when its feature is running (``Features``).
"""

import csv
import datetime
import io
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import bottle

from wpbxd import __version__
from wpbxd.bus import EventBus
from wpbxd.config import passwords, settings, users
from wpbxd.config.store import Store
from wpbxd.config.users import User
from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.web import access, forms, sessions, sound_pages, svg, system, tokens
from wpbxd.web.features import FeatureMissing
from wpbxd.web.livelog import LiveLog
from wpbxd.web.throttle import LoginThrottle

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
VIEWS = str(HERE / "views")
STATIC = str(HERE / "static")
SESSION_COOKIE = "wpbx_session"
LOGIN_COOKIE = "wpbx_login"
PAGE_SIZE = 100  # table rows per page
COMMANDS_TTL = 2.0  # seconds the list of running features is reused
PORTS_TTL = 5.0  # seconds the blocked-ports reading (from /proc/net) is reused
MAX_EVENT_STREAMS = 3  # Debug pages following the live log at once (each holds a worker thread)
STREAM_KEEPALIVE = 5.0  # seconds between SSE comments on a quiet stream
STREAM_LIFETIME = 300.0  # seconds before a stream ends (the browser reconnects where it left off)
DEBUG_LINES = 200  # live-log lines on the Debug page
CDR_CSV_LIMIT = 100_000  # rows in one CSV download
USER_FIELDS = users.EDITABLE
USER_LABELS = {
    "type": "Type", "name": "Name", "login": "Login", "extension": "Extension",
    "fax_did": "Fax DID", "office_did": "Office DID", "email": "Email",
    "mobility": "Mobility (mobile number)", "dialplan": "Dialplan", "fax_dialplan": "Fax dialplan",
    "language": "Language", "acl_group": "Group", "department": "Department",
}
SETTING_GROUPS = {
    "pbx": ("Language & region", None),
    "web": ("Web access", None),
    "sip": ("SIP", "registrations.list"),
    "dialplan": ("Dialplan general", "dialplan.trace"),
    "media": ("SIP-RTP media", "calls.list"),
}
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


@dataclass
class WebEnv:
    """What the web layer works with; built by the web service (or a test/bench)."""

    store: Store
    bus: EventBus | None
    data_dir: Path
    control: Callable[[str, dict[str, Any]], Any] | None = None
    clock: Callable[[], float] = time.time
    secure_cookies: bool = True
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    cpu: system.CpuMeter = field(default_factory=system.CpuMeter)
    livelog: LiveLog = field(default_factory=LiveLog)
    streams: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(MAX_EVENT_STREAMS))

    _cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def commands(self) -> frozenset[str]:
        """The control commands of the running services (asked at most every few seconds)."""
        if self.control is None:
            return frozenset()
        try:
            return frozenset(self.cached("help", COMMANDS_TTL))
        except Exception:
            log.exception("control 'help' failed")
            return frozenset()

    def cached(self, cmd: str, ttl: float) -> Any:
        """A read-only command's answer, reused for ``ttl`` seconds (menus ask on every page)."""
        hit = self._cache.get(cmd)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        assert self.control is not None
        value = self.control(cmd, {})
        self._cache[cmd] = (now + ttl, value)
        return value

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        if self.control is None or cmd not in self.commands():
            raise FeatureMissing(f"{cmd} is not available")
        return self.control(cmd, args or {})


# -- helpers ---------------------------------------------------------------------
def _form() -> bottle.FormsDict:
    return bottle.request.forms.decode()


def _query() -> bottle.FormsDict:
    return bottle.request.query.decode()


def registered_extensions(env: WebEnv) -> set[str]:
    """Extensions (or logins) with at least one registered contact."""
    try:
        items = env.call("registrations.list")
    except FeatureMissing:
        return set()
    out: set[str] = set()
    for item in items or []:
        if isinstance(item, dict):
            ref = next((str(item[k]) for k in ("extension", "user", "username", "aor")
                        if item.get(k)), "")
        else:
            ref = str(item)
        ref = ref.removeprefix("sips:").removeprefix("sip:").split("@", 1)[0]
        if ref:
            out.add(ref)
    return out


def _timezone(store: Store) -> datetime.tzinfo:
    try:
        return ZoneInfo(str(settings.get(store, "pbx.timezone")))
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def _day_bounds(day: datetime.date, tz: datetime.tzinfo) -> tuple[float, float]:
    start = datetime.datetime.combine(day, datetime.time(), tz)
    return start.timestamp(), (start + datetime.timedelta(days=1)).timestamp()


def _parse_day(text: str, field_name: str) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError("must be a date YYYY-MM-DD", field_name) from None


CDR_DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")


def cdr_query(store: Store, tz: datetime.tzinfo, q: dict[str, str]) -> tuple[str, tuple]:
    """WHERE clause and parameters of the CDR filters (date range, number, disposition)."""
    where, params = [], []
    since = _parse_day(q.get("from", ""), "from")
    until = _parse_day(q.get("to", ""), "to")
    if since:
        where.append("start_time >= ?")
        params.append(_day_bounds(since, tz)[0])
    if until:
        if since and until < since:
            raise ValidationError("must not be before the start date", "to")
        where.append("start_time < ?")
        params.append(_day_bounds(until, tz)[1])
    number = q.get("user", "").strip()
    if number:
        where.append("(caller_number = ? OR callee_number = ?)")
        params += [number, number]
    disposition = q.get("disposition", "")
    if disposition:
        if disposition not in CDR_DISPOSITIONS:
            raise ValidationError(f"must be one of {', '.join(CDR_DISPOSITIONS)}", "disposition")
        where.append("disposition = ?")
        params.append(disposition)
    return (" WHERE " + " AND ".join(where)) if where else "", tuple(params)


def calls_per_hour(store: Store, tz: datetime.tzinfo, day: datetime.date) -> list[int]:
    start, end = _day_bounds(day, tz)
    counts = [0] * 24
    for row in store.all("SELECT start_time FROM cdr WHERE start_time >= ? AND start_time < ?",
                         (start, end)):
        counts[datetime.datetime.fromtimestamp(row["start_time"], tz).hour] += 1
    return counts


def cdr_feature(env: WebEnv) -> bool:
    """CDR is built when its module or its control command exists."""
    import importlib.util

    return "cdr.list" in env.commands() or importlib.util.find_spec("wpbxd.telephony.cdr") is not None


# -- the application ------------------------------------------------------------------
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
        if "trunks.list" in cmds:
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
        if sound_pages.available():
            tools.append(("Sounds", "/sounds", "sounds"))
        if cdr_feature(env):
            tools.append(("Calls", "/calls", "calls"))
        if "calls.list" in cmds:
            tools.append(("Debug", "/debug", "debug"))
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
        q = _query()
        target = q.get("next") or "/users"
        if not target.startswith("/") or target.startswith("//"):
            target = "/users"
        values = {"login": "", "error": "", "next": target}
        token = bottle.request.get_cookie(LOGIN_COOKIE) or ""
        if bottle.request.method == "POST":
            f = _form()
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
            f = _form()
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

    # --- users ---
    @app.get("/users")
    @page
    def users_list() -> str:
        q = _query()
        search = q.get("q", "").strip()
        try:
            page_no = max(1, int(q.get("page", "1")))
        except ValueError:
            page_no = 1
        everyone = users.list_users(store, search or None)
        pages = max(1, -(-len(everyone) // PAGE_SIZE))
        page_no = min(page_no, pages)
        shown = everyone[(page_no - 1) * PAGE_SIZE: page_no * PAGE_SIZE]
        online = registered_extensions(env)
        signed_in = {r["user_id"] for r in store.all(
            "SELECT DISTINCT user_id FROM web_sessions WHERE last_seen > ?", (now() - idle(),))}
        rows = [(u, bool((u.extension and u.extension in online) or (u.login and u.login in online)
                         or u.id in signed_in), access.may_manage(me(), u)) for u in shown]
        return render("users", "Users", "users", rows=rows, search=search, page_no=page_no,
                      pages=pages, total=len(everyone), prefs="prefs.set" in env.commands(),
                      acl="acl.set" in env.commands())

    @app.route("/users/groups", method=["GET", "POST"])
    @page
    def acl_groups() -> str:
        if "acl.set" not in env.commands():
            raise FeatureMissing("ACL groups are not available")
        from wpbxd.telephony.dialplan.callclass import CLASSES

        error, name = "", ""
        if bottle.request.method == "POST":
            f = _form()
            name = f.get("name", "")
            try:
                env.call("acl.set", {"name": name, "allowed": f.getall("allowed")})
            except UserError as err:
                error = getattr(err, "message", str(err))
            else:
                flash(f"Group {name} saved.")
                bottle.redirect("/users/groups", 303)
        return render("acl_groups", "User groups (ACL)", "users", groups=env.call("acl.list"),
                      classes=CLASSES, error=error, name=name)

    def procedure_options() -> list[tuple[str, str]]:
        return [(r["name"], r["name"]) for r in store.all("SELECT name FROM procedures ORDER BY name")]

    def group_options() -> list[tuple[str, str]]:
        return [(r["name"], r["name"]) for r in store.all("SELECT name FROM acl_groups ORDER BY name")]

    def type_options(target: User | None) -> list[tuple[str, str]]:
        allowed = [t for t in users.USER_TYPES
                   if t != "admin" or me().is_super_admin or (target and target.id == me().id)]
        return [(t, t) for t in allowed]

    def user_form(target: User | None) -> str:
        creating = target is None
        values: dict[str, Any] = ({k: "" for k in USER_FIELDS} if creating
                                  else {k: getattr(target, k) or "" for k in USER_FIELDS})
        if creating:
            values.update(type="user", dialplan="users", fax_dialplan="users", language="en",
                          acl_group="default")
        pw = {"sip_password": "", "web_password": ""}
        errors: dict[str, str] = {}
        shown: set[str] = set()
        if bottle.request.method == "POST":
            f = _form()
            values = {k: f.get(k, "") for k in USER_FIELDS}
            if target is not None and target.is_super_admin:
                values["type"], values["login"] = "admin", "admin"
            if creating:
                pw = {k: f.get(k, "") for k in pw}
            generate_for = f.get("generate", "")
            if creating and generate_for in pw:
                pw[generate_for] = passwords.generate()
                shown.add(generate_for)
            else:
                try:
                    access.check_type(me(), values["type"], target)
                    if creating:
                        user = users.add_user(store, bus, values, sip_password=pw["sip_password"] or None,
                                              web_password=pw["web_password"] or None)
                        flash(f"User {user.name} added.")
                    else:
                        user = users.update_user(store, bus, target.id, values)
                        flash(f"User {user.name} saved.")
                    bottle.redirect("/users", 303)
                except access.Forbidden as err:
                    errors["type"] = str(err)
                except UserError as err:
                    name, message = forms.error_field(err, USER_FIELDS + tuple(pw))
                    errors[name or "_"] = message
        return render("user_form", "Add user" if creating else f"Edit {target.name}", "users",
                      values=values, pw=pw, errors=errors, shown=shown, creating=creating,
                      target=target, labels=USER_LABELS, types=type_options(target),
                      procedures=procedure_options(), groups=group_options())

    @app.route("/users/new", method=["GET", "POST"])
    @page
    def user_new() -> str:
        return user_form(None)

    def managed(ref: str) -> User:
        target = users.get_user(store, int(ref)) if ref.isdigit() else None
        if target is None:
            raise NotFound(f"no user {ref!r}")
        access.check_manage(me(), target)
        return target

    @app.route("/users/<ref>/edit", method=["GET", "POST"])
    @page
    def user_edit(ref: str) -> str:
        return user_form(managed(ref))

    @app.route("/users/<ref>/passwords", method=["GET", "POST"])
    @page
    def user_passwords(ref: str) -> str:
        target = managed(ref)
        if target.id == me().id:
            bottle.redirect("/password", 303)
        pw = {"sip_password": "", "web_password": ""}
        errors: dict[str, str] = {}
        shown: set[str] = set()
        if bottle.request.method == "POST":
            f = _form()
            pw = {k: f.get(k, "") for k in pw}
            generate_for = f.get("generate", "")
            if generate_for in pw:
                pw[generate_for] = passwords.generate()
                shown.add(generate_for)
            else:
                for name, value in pw.items():
                    problems = passwords.policy_problems(value) if value else []
                    if problems:
                        errors[name] = "password " + "; ".join(problems)
                if not errors:
                    try:
                        users.set_passwords(store, bus, target.id, sip_password=pw["sip_password"] or None,
                                            web_password=pw["web_password"] or None)
                    except UserError as err:
                        name, message = forms.error_field(err, tuple(pw))
                        errors[name or "_"] = message
                    else:
                        if pw["web_password"]:
                            sessions.destroy_for_user(store, target.id)
                        flash(f"Passwords of {target.name} set.")
                        bottle.redirect("/users", 303)
        return render("user_passwords", f"Passwords of {target.name}", "users", target=target,
                      pw=pw, errors=errors, shown=shown)

    @app.route("/users/<ref>/delete", method=["GET", "POST"])
    @page
    def user_delete(ref: str) -> str:
        target = managed(ref)
        error = ""
        if bottle.request.method == "POST":
            try:
                users.delete_user(store, bus, target.id, personal_data=bool(_form().get("personal_data")))
            except UserError as err:
                error = str(err)
            else:
                if target.id == me().id:
                    bottle.redirect("/login", 303)
                flash(f"User {target.name} deleted.")
                bottle.redirect("/users", 303)
        return render("user_delete", f"Delete {target.name}", "users", target=target, error=error)

    PREF_LABELS = {
        "dnd": "Refuse all calls (do not disturb)", "fwd_busy": "Forward if busy",
        "fwd_unavailable": "Forward if unavailable", "fwd_always": "Forward always",
        "call_waiting": "Call waiting", "call_timeout": "Call timeout (s, empty = off)",
        "mobility_delay": "Mobility extension after (s, empty = off)",
        "missed_email": "Notify missed calls by email",
    }

    @app.route("/users/<ref>/preferences", method=["GET", "POST"])
    @page
    def user_preferences(ref: str) -> str:
        target = managed(ref)
        if "prefs.set" not in env.commands():
            raise FeatureMissing("user preferences are not available")
        prefs = env.call("prefs.show", {"user": str(target.id)})
        call_class = _query().get("class", "") or next(iter(prefs))
        if call_class not in prefs:
            raise NotFound(f"no call class {call_class!r}")
        values = dict(prefs[call_class])
        errors: dict[str, str] = {}
        if bottle.request.method == "POST":
            f = _form()
            values = {k: (("1" if f.get(k) else "0") if isinstance(v, bool) else f.get(k, ""))
                      for k, v in prefs[call_class].items() if k in PREF_LABELS}
            try:
                env.call("prefs.set", {"user": str(target.id), "class": call_class, "values": values})
            except ValidationError as err:
                errors[err.field if err.field in PREF_LABELS else "_"] = err.message
            else:
                flash(f"Preferences of {target.name} for {call_class} calls saved.")
                bottle.redirect(f"/users/{target.id}/preferences?class={call_class}", 303)
            values = {k: (v == "1" if isinstance(prefs[call_class][k], bool) else v) for k, v in values.items()}
        return render("user_prefs", f"Preferences of {target.name}", "users", target=target,
                      classes=list(prefs), call_class=call_class, values=values, errors=errors,
                      labels=PREF_LABELS)

    @app.get("/users/export.csv")
    @page
    def users_export() -> str:
        access.check_super(me(), "export users")
        bottle.response.content_type = "text/csv; charset=utf-8"
        bottle.response.set_header("Content-Disposition", 'attachment; filename="users.csv"')
        return users.export_csv(store)

    @app.route("/users/import", method=["GET", "POST"])
    @page
    def users_import() -> str:
        access.check_super(me(), "import users")
        error, text = "", ""
        if bottle.request.method == "POST":
            upload = bottle.request.files.get("file")
            raw = upload.file.read() if upload is not None else b""
            if not raw:
                raw = (_form().get("csv") or "").encode()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                error = "the file is not UTF-8 text"
            if not error:
                try:
                    added = users.import_csv(store, bus, text)
                except UserError as err:
                    error = str(err)
                else:
                    flash(f"{len(added)} user(s) imported.")
                    bottle.redirect("/users", 303)
            bottle.response.status = 400
        return render("users_import", "Import users", "users", error=error, text=text,
                      columns=users.CSV_COLUMNS)

    # --- info, calls, debug, bans ---
    @app.get("/info")
    @page
    def info() -> str:
        pictures = []
        cpu = env.cpu.ratio()
        if cpu is not None:
            pictures.append(svg.gauge("CPU", cpu, f"{cpu:.0%}"))
        mem = system.memory()
        if mem:
            pictures.append(svg.gauge("Memory", mem.ratio, f"{system.human_bytes(mem.used)}"))
        disk = system.storage(env.data_dir)
        if disk:
            pictures.append(svg.gauge("Storage", disk.ratio, f"{disk.ratio:.0%}"))
        counts = []
        cmds = env.commands()
        if "calls.list" in cmds:
            counts.append(("Active calls", len(env.call("calls.list") or []), "/debug"))
        if "registrations.list" in cmds:
            counts.append(("Registrations", len(registered_extensions(env)), "/users"))
        counts.append(("Users", store.one("SELECT COUNT(*) AS n FROM users")["n"], "/users"))
        sensors = []
        if "hw.sensors" in cmds:
            for reading in env.call("hw.sensors") or []:
                value = reading.get("value")
                text = f"{value:g} {reading.get('unit', '')}" if value is not None else (reading.get("error") or "no reading")
                sensors.append((reading.get("name", "?"), text))
        details = [("Version", __version__), ("Data", str(env.data_dir))]
        if mem:
            details.append(("Memory", f"{system.human_bytes(mem.used)} of {system.human_bytes(mem.total)}"))
        if disk:
            details.append(("Storage", f"{system.human_bytes(disk.used)} of {system.human_bytes(disk.total)}"))
        return render("info", "Info", "info", pictures=pictures, counts=counts, details=details + sensors)

    def cdr_filters() -> tuple[dict[str, str], dict[str, str], str, tuple]:
        q = {k: _query().get(k, "").strip() for k in ("from", "to", "user", "disposition")}
        tz = _timezone(store)
        errors: dict[str, str] = {}
        try:
            where, params = cdr_query(store, tz, q)
        except ValidationError as err:
            errors[err.field or "_"] = err.message
            where, params = "", ()
        return q, errors, where, params

    @app.get("/calls")
    @page
    def calls() -> str:
        if not cdr_feature(env):
            raise FeatureMissing("call history is not available")
        q, errors, where, params = cdr_filters()
        try:
            page_no = max(1, int(_query().get("page", "1")))
        except ValueError:
            page_no = 1
        total = store.one(f"SELECT COUNT(*) AS n FROM cdr{where}", params)["n"]
        rows = store.all(f"SELECT * FROM cdr{where} ORDER BY start_time DESC LIMIT ? OFFSET ?",
                         (*params, PAGE_SIZE, (page_no - 1) * PAGE_SIZE))
        tz = _timezone(store)
        day = (_parse_day(q["from"], "from") if q["from"] and not errors else None) or \
            datetime.datetime.fromtimestamp(now(), tz).date()
        chart = svg.bars(f"Calls per hour on {day.isoformat()}", [f"{h:02d}" for h in range(24)],
                         calls_per_hour(store, tz, day))
        fmt = [(r, datetime.datetime.fromtimestamp(r["start_time"], tz).strftime("%Y-%m-%d %H:%M:%S"))
               for r in rows]
        return render("calls", "Calls", "calls", q=q, errors=errors, rows=fmt, total=total,
                      page_no=page_no, pages=max(1, -(-total // PAGE_SIZE)), chart=chart, day=day,
                      dispositions=CDR_DISPOSITIONS, query=urlencode(q))

    @app.get("/calls.csv")
    @page
    def calls_csv() -> str:
        if not cdr_feature(env):
            raise FeatureMissing("call history is not available")
        q, errors, where, params = cdr_filters()
        if errors:
            bottle.abort(400, "; ".join(f"{k}: {v}" for k, v in errors.items()))
        tz = _timezone(store)
        out = io.StringIO()
        writer = csv.writer(out)
        columns = ("start", "caller_number", "caller_name", "callee_number", "callee_name",
                   "disposition", "duration", "billsec", "hangup_cause", "codec", "cost")
        writer.writerow(columns)
        for r in store.all(f"SELECT * FROM cdr{where} ORDER BY start_time LIMIT ?", (*params, CDR_CSV_LIMIT)):
            start = datetime.datetime.fromtimestamp(r["start_time"], tz).isoformat(timespec="seconds")
            writer.writerow([start, *(("" if r[c] is None else r[c]) for c in columns[1:])])
        bottle.response.content_type = "text/csv; charset=utf-8"
        bottle.response.set_header("Content-Disposition", 'attachment; filename="calls.csv"')
        return out.getvalue()

    @app.get("/ports")
    @page
    def ports() -> str:
        return render("ports", "Blocked ports", "ports", ports=env.call("net.ports"))

    @app.route("/devices", method=["GET", "POST"])
    @page
    def devices() -> str:
        if "dhcp.device.list" not in env.commands():
            raise FeatureMissing("devices are not available")
        errors: dict[str, str] = {}
        values = {"mac": "", "name": "", "model": ""}
        if bottle.request.method == "POST":
            f = _form()
            try:
                if f.get("delete"):
                    env.call("dhcp.device.del", {"mac": f.get("delete")})
                    flash(f"Device {f.get('delete')} removed.")
                else:
                    values = {k: f.get(k, "") for k in values}
                    device = env.call("dhcp.device.add", values)
                    flash(f"Device {device['mac']} saved.")
            except UserError as err:
                field = getattr(err, "field", None)
                errors[field if field in values else "mac"] = getattr(err, "message", str(err))
            else:
                bottle.redirect("/devices", 303)
        leases = env.call("dhcp.leases") if "dhcp.leases" in env.commands() else []
        return render("devices", "Devices", "devices", devices=env.call("dhcp.device.list"),
                      leases=leases, values=values, errors=errors)

    @app.get("/debug")
    @page
    def debug() -> str:
        live = env.call("calls.list") or []
        lines = env.livelog.recent(DEBUG_LINES)
        tz = _timezone(store)
        return render("debug", "Debug: live calls", "debug", calls=live,
                      lines=[(line, datetime.datetime.fromtimestamp(line.time, tz).strftime("%H:%M:%S"))
                             for line in lines],
                      last=lines[-1].seq if lines else 0)

    @app.get("/debug/events")
    @page
    def debug_events() -> Any:
        """Server-Sent Events: live-log lines after ``Last-Event-ID`` (or ``?after=``)."""
        if "calls.list" not in env.commands():
            raise FeatureMissing("calls are not available")
        raw = bottle.request.get_header("Last-Event-ID") or _query().get("after", "0")
        after = int(raw) if raw.isdigit() else 0
        if not env.streams.acquire(blocking=False):
            bottle.abort(503, "too many live views open; close one or use Refresh")
        tz = _timezone(store)

        def stream() -> Any:
            seq, deadline = after, time.monotonic() + STREAM_LIFETIME
            try:
                yield "retry: 3000\n\n"
                while time.monotonic() < deadline and not env.livelog.closed:
                    lines = env.livelog.wait(seq, STREAM_KEEPALIVE)
                    if not lines:
                        yield ": keep-alive\n\n"
                        continue
                    for line in lines:
                        stamp = datetime.datetime.fromtimestamp(line.time, tz).strftime("%H:%M:%S")
                        text = f"{stamp} {line.call_id} {line.text}".replace("\n", " ")
                        yield f"id: {line.seq}\nevent: {line.kind}\ndata: {text}\n\n"
                        seq = line.seq
            finally:
                env.streams.release()

        bottle.response.content_type = "text/event-stream; charset=utf-8"
        bottle.response.set_header("Cache-Control", "no-store")
        return stream()

    @app.route("/bans", method=["GET", "POST"])
    @page
    def bans() -> str:
        access.check_super(me(), "see SIP bans")
        if bottle.request.method == "POST":
            address = _form().get("address", "")
            env.call("bans.unban", {"address": address})
            flash(f"{address} unbanned.")
            bottle.redirect("/bans", 303)
        return render("bans", "SIP bans", "bans", bans=env.call("bans.list") or [])

    # --- settings ---
    def setting_groups() -> list[tuple[str, str]]:
        cmds = env.commands()
        groups = [(g, t) for g, (t, need) in SETTING_GROUPS.items() if need is None or need in cmds]
        if "smtp.set" in cmds:
            groups.append(("smtp", "Email (SMTP)"))
        if "net.show" in cmds:
            groups.append(("network", "Network"))
        if "backup.create" in cmds:
            groups.append(("backup", "Backup"))
        return groups

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
            f = _form()
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
            f = _form()
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
            f = _form()
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

    from wpbxd.web import api, backup_pages, dialplan_pages, network_pages

    dialplan_pages.install(app, env, page, render, flash)
    network_pages.install(app, env, page, render, flash, setting_groups)
    sound_pages.install(app, env, page, render, flash)
    backup_pages.install(app, env, page, render, flash, setting_groups,
                         lambda what: access.check_super(me(), what))
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
