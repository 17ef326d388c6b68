"""Users pages (seed: "Ajouter / Importer des utilisateurs", "Préférences des
utilisateurs"): the table with its status dots, add / edit / delete, passwords,
preferences per call class, user groups (ACL), CSV export and import.

Every change is a call to ``wpbxd.config.users`` (or a ``prefs.*`` / ``acl.*``
command); who may change whom is ``access.py``'s rule.
"""

from typing import Any

import bottle

from wpbxd.config import passwords, users
from wpbxd.config.users import User
from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.web import access, forms, sessions
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import PAGE_SIZE, Kit, WebEnv, form, query

USER_FIELDS = users.EDITABLE
USER_LABELS = {
    "type": "Type", "name": "Name", "login": "Login", "extension": "Extension",
    "fax_did": "Fax DID", "office_did": "Office DID", "email": "Email",
    "mobility": "Mobility (mobile number)", "dialplan": "Dialplan", "fax_dialplan": "Fax dialplan",
    "language": "Language", "acl_group": "Group", "department": "Department",
}


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


def install(app: bottle.Bottle, kit: Kit) -> None:
    env = kit.env
    store = kit.env.store
    bus = kit.env.bus
    page = kit.page
    render = kit.render
    flash = kit.flash
    me = kit.me
    now = kit.now
    idle = kit.idle

    @app.get("/users")
    @page
    def users_list() -> str:
        q = query()
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
            f = form()
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
            f = form()
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
            f = form()
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
                users.delete_user(store, bus, target.id, personal_data=bool(form().get("personal_data")))
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
        call_class = query().get("class", "") or next(iter(prefs))
        if call_class not in prefs:
            raise NotFound(f"no call class {call_class!r}")
        values = dict(prefs[call_class])
        errors: dict[str, str] = {}
        if bottle.request.method == "POST":
            f = form()
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
                raw = (form().get("csv") or "").encode()
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
