"""Users: records and the service functions that change them.

Seed chapter "Ajouter / Importer des utilisateurs". Every change goes through
these functions (web UI, consoles and ``wpbxctl`` alike): validate everything,
write in one transaction, publish ``ConfigChanged('users')``. A rejected change
writes nothing. WEB passwords are kept only as hashes; SIP passwords are kept as
they are, because digest authentication and phone provisioning need them.
"""

import csv
import io
import re
import sqlite3
from dataclasses import asdict, dataclass, fields
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config import passwords
from wpbxd.config.store import Store
from wpbxd.errors import Conflict, NotFound, ValidationError
from wpbxd.events import ConfigChanged

USER_TYPES = ("admin", "user", "fax", "parkorbit", "room")
SUPER_ADMIN_LOGIN = "admin"
EXTENSION_RE = re.compile(r"^\+?[0-9]{1,20}$")
EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
LOGIN_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}(_[A-Z]{2})?$")
# Fields an admin edits directly (passwords have their own function).
EDITABLE = (
    "type", "name", "login", "extension", "fax_did", "office_did", "email", "mobility",
    "dialplan", "fax_dialplan", "language", "acl_group", "department",
)
CSV_COLUMNS = EDITABLE + ("sip_password", "web_password")


@dataclass(frozen=True)
class User:
    id: int
    type: str
    name: str
    login: str | None
    extension: str | None
    fax_did: str | None
    office_did: str | None
    email: str | None
    mobility: str | None
    dialplan: str
    fax_dialplan: str
    language: str
    acl_group: str
    department: str
    sip_password: str
    web_password_hash: str
    keypad_hash: str
    must_change_password: bool
    created_at: str

    @property
    def is_super_admin(self) -> bool:
        return self.login == SUPER_ADMIN_LOGIN and self.type == "admin"

    def public(self) -> dict[str, Any]:
        """The fields safe to show (no password material)."""
        data = asdict(self)
        for secret in ("sip_password", "web_password_hash", "keypad_hash"):
            data.pop(secret)
        return data


_COLUMNS = ", ".join(f.name for f in fields(User))


def _row_to_user(row: sqlite3.Row) -> User:
    data = dict(row)
    data["must_change_password"] = bool(data["must_change_password"])
    return User(**data)


# -- reading -------------------------------------------------------------------
def list_users(store: Store, search: str | None = None) -> list[User]:
    sql = f"SELECT {_COLUMNS} FROM users"
    params: tuple = ()
    if search:
        like = f"%{search}%"
        sql += (" WHERE name LIKE ? OR extension LIKE ? OR email LIKE ? OR login LIKE ?"
                " OR department LIKE ?")
        params = (like,) * 5
    sql += " ORDER BY extension IS NULL, CAST(extension AS INTEGER), extension, name"
    return [_row_to_user(r) for r in store.all(sql, params)]


def get_user(store: Store, ref: str | int) -> User:
    """A user by id, extension or login."""
    ref = str(ref)
    row = store.one(f"SELECT {_COLUMNS} FROM users WHERE extension = ?", (ref,))
    if row is None:
        row = store.one(f"SELECT {_COLUMNS} FROM users WHERE login = ?", (ref,))
    if row is None and ref.isdigit():
        row = store.one(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (int(ref),))
    if row is None:
        raise NotFound(f"no user {ref!r}")
    return _row_to_user(row)


def find_by_extension(store: Store, extension: str) -> User | None:
    row = store.one(f"SELECT {_COLUMNS} FROM users WHERE extension = ?", (extension,))
    return _row_to_user(row) if row else None


def find_by_auth_name(store: Store, name: str) -> User | None:
    """The user a SIP digest username names: its extension, else its login."""
    row = store.one(
        f"SELECT {_COLUMNS} FROM users WHERE extension = ? OR login = ? ORDER BY extension = ? DESC",
        (name, name, name),
    )
    return _row_to_user(row) if row else None


# -- validation ----------------------------------------------------------------
def _clean(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in EDITABLE:
            raise ValidationError(f"unknown field {key!r}", key)
        if value is None:
            out[key] = None
            continue
        text = str(value).strip()
        out[key] = text if text != "" else None
    return out


def _validate(store: Store, data: dict[str, Any], user_id: int | None) -> None:
    if data.get("type") not in USER_TYPES:
        raise ValidationError(f"must be one of {', '.join(USER_TYPES)}", "type")
    if not data.get("name"):
        raise ValidationError("is required", "name")
    if len(data["name"]) > 100:
        raise ValidationError("is longer than 100 characters", "name")
    if data.get("extension") and not EXTENSION_RE.match(data["extension"]):
        raise ValidationError("must be digits (an optional leading +), at most 20", "extension")
    if data.get("type") != "admin" and not data.get("extension"):
        raise ValidationError("is required for this user type", "extension")
    for field in ("fax_did", "office_did", "mobility"):
        if data.get(field) and not EXTENSION_RE.match(data[field]):
            raise ValidationError("must be a phone number (digits, optional leading +)", field)
    if data.get("email") and not EMAIL_RE.match(data["email"]):
        raise ValidationError("is not a valid email address", "email")
    if data.get("login") and not LOGIN_RE.match(data["login"]):
        raise ValidationError("may only contain letters, digits, '.', '_', '@' and '-'", "login")
    if data.get("language") and not LANGUAGE_RE.match(data["language"]):
        raise ValidationError("must be a language code such as 'en' or 'fr'", "language")
    for field in ("dialplan", "fax_dialplan"):
        if store.one("SELECT 1 FROM procedures WHERE name = ?", (data[field],)) is None:
            raise ValidationError(f"no dialplan procedure {data[field]!r}", field)
    if store.one("SELECT 1 FROM acl_groups WHERE name = ?", (data["acl_group"],)) is None:
        raise ValidationError(f"no ACL group {data['acl_group']!r}", "acl_group")
    for field in ("extension", "email", "login"):
        if data.get(field):
            row = store.one(f"SELECT id FROM users WHERE {field} = ? COLLATE NOCASE", (data[field],))
            if row is not None and row["id"] != user_id:
                raise Conflict(f"{field} {data[field]!r} is already used by another user")
    if data.get("extension"):
        row = store.one("SELECT id FROM users WHERE login = ?", (data["extension"],))
        if row is not None and row["id"] != user_id:
            raise Conflict(f"extension {data['extension']!r} is another user's login")


_DEFAULTS = {
    "type": "user", "login": None, "extension": None, "fax_did": None, "office_did": None,
    "email": None, "mobility": None, "dialplan": "users", "fax_dialplan": "users",
    "language": "en", "acl_group": "default", "department": "",
}


def _prepare_new(store: Store, values: dict[str, Any], sip_password: str | None,
                 web_password: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    data = {**_DEFAULTS, **{k: v for k, v in _clean(values).items() if v is not None}}
    data["department"] = data.get("department") or ""
    _validate(store, data, None)
    secrets_ = _password_columns(sip_password, web_password)
    return data, secrets_


def _password_columns(sip_password: str | None, web_password: str | None) -> dict[str, str]:
    columns: dict[str, str] = {}
    if sip_password is not None:
        passwords.check_policy(sip_password, "sip_password")
        columns["sip_password"] = sip_password
    if web_password is not None:
        passwords.check_policy(web_password, "web_password")
        columns["web_password_hash"] = passwords.hash_secret(web_password)
        columns["keypad_hash"] = passwords.hash_secret(passwords.keypad_code(web_password))
    return columns


def _insert(store: Store, data: dict[str, Any], secrets_: dict[str, str]) -> int:
    row = {**data, **secrets_}
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    try:
        cur = store.execute(f"INSERT INTO users ({cols}) VALUES ({marks})", tuple(row.values()))
    except sqlite3.IntegrityError as err:
        raise Conflict(f"cannot add user: {err}") from None
    return int(cur.lastrowid)


# -- writing -------------------------------------------------------------------
def add_user(store: Store, bus: EventBus | None, values: dict[str, Any],
             sip_password: str | None = None, web_password: str | None = None) -> User:
    data, secrets_ = _prepare_new(store, values, sip_password, web_password)
    with store.transaction():
        user_id = _insert(store, data, secrets_)
    if bus:
        bus.publish(ConfigChanged("users", str(user_id)))
    return get_user(store, user_id)


def update_user(store: Store, bus: EventBus | None, ref: str | int,
                values: dict[str, Any]) -> User:
    current = get_user(store, ref)
    changes = _clean(values)
    if current.is_super_admin and ("type" in changes or "login" in changes):
        if changes.get("type", "admin") != "admin" or changes.get("login", "admin") != "admin":
            raise ValidationError("the super admin's type and login cannot change", "type")
    data = {k: getattr(current, k) for k in EDITABLE}
    data.update(changes)
    data["department"] = data.get("department") or ""
    for key in ("dialplan", "fax_dialplan", "language", "acl_group", "type"):
        if not data.get(key):
            data[key] = _DEFAULTS[key]
    _validate(store, data, current.id)
    assignments = ", ".join(f"{k} = ?" for k in data)
    with store.transaction():
        store.execute(f"UPDATE users SET {assignments} WHERE id = ?", (*data.values(), current.id))
    if bus:
        bus.publish(ConfigChanged("users", str(current.id)))
    return get_user(store, current.id)


def set_passwords(store: Store, bus: EventBus | None, ref: str | int,
                  sip_password: str | None = None, web_password: str | None = None) -> User:
    user = get_user(store, ref)
    if sip_password is None and web_password is None:
        raise ValidationError("give a SIP password, a WEB password or both")
    columns = _password_columns(sip_password, web_password)
    if web_password is not None:
        columns["must_change_password"] = 0  # type: ignore[assignment]
    assignments = ", ".join(f"{k} = ?" for k in columns)
    with store.transaction():
        store.execute(f"UPDATE users SET {assignments} WHERE id = ?", (*columns.values(), user.id))
    if bus:
        bus.publish(ConfigChanged("users", str(user.id)))
    return get_user(store, user.id)


def delete_user(store: Store, bus: EventBus | None, ref: str | int,
                personal_data: bool = False) -> User:
    """Delete a user; with ``personal_data`` also its call records."""
    user = get_user(store, ref)
    if user.is_super_admin:
        raise ValidationError("the super admin cannot be deleted")
    with store.transaction():
        store.execute("DELETE FROM users WHERE id = ?", (user.id,))
        if personal_data and user.extension:
            store.execute(
                "DELETE FROM cdr WHERE caller_number = ? OR callee_number = ?",
                (user.extension, user.extension),
            )
    if bus:
        bus.publish(ConfigChanged("users", str(user.id)))
    return user


def check_web_password(store: Store, login_or_extension: str, password: str) -> User | None:
    """The user whose WEB password this is, or None."""
    try:
        user = get_user(store, login_or_extension)
    except NotFound:
        passwords.verify_secret(password, passwords.hash_secret("x"))  # same cost either way
        return None
    if user.web_password_hash and passwords.verify_secret(password, user.web_password_hash):
        return user
    return None


# -- CSV -----------------------------------------------------------------------
def export_csv(store: Store) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EDITABLE)
    for user in list_users(store):
        writer.writerow(["" if getattr(user, c) is None else getattr(user, c) for c in EDITABLE])
    return out.getvalue()


def import_csv(store: Store, bus: EventBus | None, text: str) -> list[User]:
    """Add every row of a CSV file, or none.

    The header names the columns (any of ``CSV_COLUMNS``; ``name`` and
    ``extension`` required). A bad row raises ``ValidationError`` naming its line
    number; nothing is written then.
    """
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
    except csv.Error as err:
        raise ValidationError(f"line 1: not a CSV file ({err})") from None
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ValidationError(f"line 1: unknown column(s) {', '.join(unknown)}")
    if "name" not in header or "extension" not in header:
        raise ValidationError("line 1: the header must have 'name' and 'extension' columns")
    prepared = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise ValidationError(f"line {line}: more fields than columns in the header")
            values = {k: v for k, v in row.items() if k in EDITABLE}
            try:
                data, secrets_ = _prepare_new(
                    store, values, row.get("sip_password") or None, row.get("web_password") or None
                )
            except (ValidationError, Conflict) as err:
                raise ValidationError(f"line {line}: {err}") from None
            for field in ("extension", "email", "login"):
                if data.get(field):
                    key = f"{field}:{str(data[field]).lower()}"
                    if key in seen:
                        raise ValidationError(
                            f"line {line}: {field} {data[field]!r} repeats line {seen[key]}"
                        )
                    seen[key] = line
            prepared.append((data, secrets_))
    except csv.Error as err:
        raise ValidationError(f"line {reader.line_num}: malformed CSV ({err})") from None
    if not prepared:
        raise ValidationError("the file has no user rows")
    with store.transaction():
        ids = [_insert(store, data, secrets_) for data, secrets_ in prepared]
    if bus:
        bus.publish(ConfigChanged("users"))
    return [get_user(store, i) for i in ids]
