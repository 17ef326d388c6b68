"""Procedures as data: the service functions that change them, and the save-time check.

Every change (web UI, console, ``wpbxctl``) goes through these functions: write
inside one transaction, check the *whole resulting* dialplan (``check``), publish
``ConfigChanged('dialplan')``. A change the check refuses raises
``ValidationError`` with a message naming procedure, entry and application, and
the transaction rolls back, so the previous dialplan stays intact.

The check refuses: invalid patterns, unknown applications, bad parameters,
references to procedures / time ranges / switches / call groups that do not
exist, and loops of gotos (found by following, for sample numbers of every
entry, the jumps that must happen whatever the time, switch or callee state).

Rule: this module writes rows; it never runs a call.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import Conflict, NotFound, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.telephony.dialplan.apps.base import Application
from wpbxd.telephony.dialplan.apps.goto import Goto
from wpbxd.telephony.dialplan.apps.registry import applications
from wpbxd.telephony.dialplan.engine import MAX_JUMPS, Dialplan, Entry, Procedure
from wpbxd.telephony.dialplan.engine import AppCall as CompiledApp
from wpbxd.telephony.dialplan.patterns import Pattern, compile_pattern

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Applications of the media issue: a procedure may name them before they exist;
# the engine then reports "application not available" on a call.
REFERENCE_TABLES = {
    "procedure": ("procedures", "procedure"),
    "time_range": ("time_ranges", "time range"),
    "switch": ("switches", "switch"),
    "call_group": ("call_groups", "call group"),
}
SECTION = "dialplan"


def check_name(name: str, what: str = "procedure") -> str:
    name = str(name or "").strip()
    if not NAME_RE.match(name):
        raise ValidationError(f"{what} name {name!r}: 1-64 letters, digits, '_', '-' or '.'", "name")
    return name


def _publish(bus: EventBus | None, key: str | None = None) -> None:
    if bus is not None:
        bus.publish(ConfigChanged(SECTION, key))


# -- reading -------------------------------------------------------------------
def list_procedures(store: Store) -> list[dict[str, Any]]:
    rows = store.all("SELECT p.name, p.description,"
                     " (SELECT COUNT(*) FROM dialplan_entries e WHERE e.procedure = p.name) AS entries,"
                     " (SELECT group_concat(included, ',') FROM (SELECT included FROM procedure_includes i"
                     "   WHERE i.procedure = p.name ORDER BY position)) AS includes"
                     " FROM procedures p ORDER BY p.name")
    return [{**dict(r), "includes": r["includes"] or ""} for r in rows]


def get_procedure(store: Store, name: str) -> dict[str, Any]:
    row = store.one("SELECT name, description FROM procedures WHERE name = ?", (name,))
    if row is None:
        raise NotFound(f"no procedure {name!r}")
    entries = []
    for e in store.all("SELECT id, pattern FROM dialplan_entries WHERE procedure = ? ORDER BY position", (name,)):
        apps = [{"app": a["app"], "params": json.loads(a["params"])}
                for a in store.all("SELECT app, params FROM dialplan_apps WHERE entry_id = ? ORDER BY position",
                                   (e["id"],))]
        entries.append({"pattern": e["pattern"], "apps": apps})
    includes = [r["included"] for r in store.all(
        "SELECT included FROM procedure_includes WHERE procedure = ? ORDER BY position", (name,))]
    return {"name": row["name"], "description": row["description"], "includes": includes, "entries": entries}


# -- procedures ------------------------------------------------------------------
def add_procedure(store: Store, bus: EventBus | None, name: str, description: str = "") -> dict[str, Any]:
    name = check_name(name)
    with store.transaction():
        if store.one("SELECT 1 FROM procedures WHERE name = ?", (name,)):
            raise Conflict(f"procedure {name!r} already exists")
        store.execute("INSERT INTO procedures(name, description) VALUES (?, ?)", (name, str(description or "")))
    _publish(bus, name)
    return get_procedure(store, name)


def update_procedure(store: Store, bus: EventBus | None, name: str, *, new_name: str | None = None,
                     description: str | None = None) -> dict[str, Any]:
    """Rename (every reference follows: includes, users, gotos) and/or describe."""
    with store.transaction():
        _require(store, "procedure", name)
        if description is not None:
            store.execute("UPDATE procedures SET description = ? WHERE name = ?", (description, name))
        if new_name is not None and new_name != name:
            rename_object(store, "procedure", name, new_name)
            name = check_name(new_name)
        check(store)
    _publish(bus, name)
    return get_procedure(store, name)


def delete_procedure(store: Store, bus: EventBus | None, name: str) -> None:
    with store.transaction():
        _require(store, "procedure", name)
        users = [r["extension"] or r["login"] for r in store.all(
            "SELECT extension, login FROM users WHERE dialplan = ? OR fax_dialplan = ?", (name, name))]
        if users:
            raise ValidationError(f"procedure {name!r} is the dialplan of user(s) {', '.join(users[:5])}")
        including = [r["procedure"] for r in store.all(
            "SELECT procedure FROM procedure_includes WHERE included = ?", (name,))]
        if including:
            raise ValidationError(f"procedure {name!r} is included by {', '.join(including)}")
        used = users_of(store, "procedure", name)
        if used:
            raise ValidationError(f"procedure {name!r} is used by {used[0]}")
        store.execute("DELETE FROM procedures WHERE name = ?", (name,))
    _publish(bus, name)


def set_includes(store: Store, bus: EventBus | None, name: str, included: list[str]) -> dict[str, Any]:
    with store.transaction():
        _require(store, "procedure", name)
        if len(set(included)) != len(included):
            raise ValidationError("a procedure is included twice", "includes")
        for other in included:
            if other == name:
                raise ValidationError(f"procedure {name!r} cannot include itself", "includes")
            _require(store, "procedure", other)
        store.execute("DELETE FROM procedure_includes WHERE procedure = ?", (name,))
        for position, other in enumerate(included):
            store.execute("INSERT INTO procedure_includes(procedure, included, position) VALUES (?, ?, ?)",
                          (name, other, position))
        check(store)
    _publish(bus, name)
    return get_procedure(store, name)


# -- entries and applications ------------------------------------------------------
def _entry_id(store: Store, procedure: str, pattern: str) -> int:
    _require(store, "procedure", procedure)
    row = store.one("SELECT id FROM dialplan_entries WHERE procedure = ? AND pattern = ?",
                    (procedure, pattern.strip()))
    if row is None:
        raise NotFound(f"procedure {procedure!r} has no called number {pattern!r}")
    return int(row["id"])


def add_entry(store: Store, bus: EventBus | None, procedure: str, pattern: str,
              apps: list[dict[str, Any]] | None = None, position: int | None = None) -> dict[str, Any]:
    """Add a called number (exact, pattern or ``default``) with its applications."""
    text = compile_pattern(pattern).text
    with store.transaction():
        _require(store, "procedure", procedure)
        if store.one("SELECT 1 FROM dialplan_entries WHERE procedure = ? AND pattern = ?", (procedure, text)):
            raise Conflict(f"procedure {procedure!r} already has the called number {text!r}")
        rows = store.all("SELECT id FROM dialplan_entries WHERE procedure = ? ORDER BY position", (procedure,))
        ids = [r["id"] for r in rows]
        cur = store.execute("INSERT INTO dialplan_entries(procedure, position, pattern) VALUES (?, ?, ?)",
                            (procedure, len(ids), text))
        new_id = int(cur.lastrowid)
        if position is not None:
            ids.insert(max(0, min(int(position), len(ids))), new_id)
            for pos, entry_id in enumerate(ids):
                store.execute("UPDATE dialplan_entries SET position = ? WHERE id = ?", (pos, entry_id))
        _write_apps(store, new_id, apps or [])
        check(store)
    _publish(bus, procedure)
    return get_procedure(store, procedure)


def delete_entry(store: Store, bus: EventBus | None, procedure: str, pattern: str) -> dict[str, Any]:
    with store.transaction():
        store.execute("DELETE FROM dialplan_entries WHERE id = ?", (_entry_id(store, procedure, pattern),))
        check(store)
    _publish(bus, procedure)
    return get_procedure(store, procedure)


def set_apps(store: Store, bus: EventBus | None, procedure: str, pattern: str,
             apps: list[dict[str, Any]]) -> dict[str, Any]:
    """Replace the ordered applications of one called number."""
    with store.transaction():
        entry_id = _entry_id(store, procedure, pattern)
        store.execute("DELETE FROM dialplan_apps WHERE entry_id = ?", (entry_id,))
        _write_apps(store, entry_id, apps)
        check(store)
    _publish(bus, procedure)
    return get_procedure(store, procedure)


def current_apps(store: Store, procedure: str, pattern: str) -> list[dict[str, Any]]:
    entry_id = _entry_id(store, procedure, pattern)
    return [{"app": a["app"], "params": json.loads(a["params"])} for a in store.all(
        "SELECT app, params FROM dialplan_apps WHERE entry_id = ? ORDER BY position", (entry_id,))]


def add_app(store: Store, bus: EventBus | None, procedure: str, pattern: str, app: str,
            params: dict[str, Any], position: int | None = None) -> dict[str, Any]:
    apps = current_apps(store, procedure, pattern)
    item = {"app": app, "params": params}
    apps.insert(len(apps) if position is None else max(0, min(int(position), len(apps))), item)
    return set_apps(store, bus, procedure, pattern, apps)


def delete_app(store: Store, bus: EventBus | None, procedure: str, pattern: str, index: int) -> dict[str, Any]:
    apps = current_apps(store, procedure, pattern)
    if not 0 <= index < len(apps):
        raise NotFound(f"called number {pattern!r} has no application number {index + 1}")
    del apps[index]
    return set_apps(store, bus, procedure, pattern, apps)


def move_app(store: Store, bus: EventBus | None, procedure: str, pattern: str, index: int,
             to: int) -> dict[str, Any]:
    apps = current_apps(store, procedure, pattern)
    if not 0 <= index < len(apps):
        raise NotFound(f"called number {pattern!r} has no application number {index + 1}")
    item = apps.pop(index)
    apps.insert(max(0, min(to, len(apps))), item)
    return set_apps(store, bus, procedure, pattern, apps)


def _write_apps(store: Store, entry_id: int, apps: list[dict[str, Any]]) -> None:
    for position, item in enumerate(apps):
        if not isinstance(item, dict) or not isinstance(item.get("app"), str):
            raise ValidationError(f"application {position + 1}: want {{'app': NAME, 'params': {{...}}}}", "apps")
        params = item.get("params") or {}
        if not isinstance(params, dict):
            raise ValidationError(f"application {position + 1} ({item['app']}): params must be an object", "params")
        name = item["app"].strip()
        cls = applications().get(name)
        if cls is not None:
            try:
                params = cls.validate(dict(params))  # store the normalised parameters
            except ValidationError as err:
                entry = store.one("SELECT procedure, pattern FROM dialplan_entries WHERE id = ?", (entry_id,))
                where = _StoredApp(entry["procedure"], entry["pattern"], position, name, params).where()
                raise ValidationError(f"{where}: {err}") from None
        store.execute("INSERT INTO dialplan_apps(entry_id, position, app, params) VALUES (?, ?, ?, ?)",
                      (entry_id, position, name, json.dumps(params)))


# -- references ----------------------------------------------------------------------
def _require(store: Store, kind: str, name: str) -> None:
    table, what = REFERENCE_TABLES[kind]
    if store.one(f"SELECT 1 FROM {table} WHERE name = ?", (name,)) is None:
        raise NotFound(f"no {what} {name!r}")


@dataclass(frozen=True)
class _StoredApp:
    procedure: str
    pattern: str
    position: int
    name: str
    params: dict[str, Any]

    def where(self) -> str:
        return f"procedure {self.procedure!r}, called number {self.pattern!r}, application {self.position + 1} ({self.name})"


def _stored_apps(store: Store) -> list[_StoredApp]:
    return [_StoredApp(r["procedure"], r["pattern"], r["position"], r["app"], json.loads(r["params"]))
            for r in store.all("SELECT e.procedure, e.pattern, a.position, a.app, a.params"
                               " FROM dialplan_apps a JOIN dialplan_entries e ON e.id = a.entry_id"
                               " ORDER BY e.procedure, e.position, a.position")]


def users_of(store: Store, kind: str, name: str) -> list[str]:
    """Where an application refers to the object ``kind``/``name`` (for refusing deletes)."""
    known = applications()
    found = []
    for item in _stored_apps(store):
        cls = known.get(item.name)
        if cls is None:
            continue
        try:
            refs = cls(item.params).references()
        except ValidationError:
            continue
        if (kind, name) in refs:
            found.append(item.where())
    return found


_RENAME_KEYS = {"procedure": ("procedure", "on", "off", "extra"), "switch": ("switch",),
                "time_range": ("range",), "call_group": ("group",)}


def _rename_in_params(store: Store, kind: str, old: str, new: str) -> None:
    keys = _RENAME_KEYS[kind]
    for row in store.all("SELECT id, app, params FROM dialplan_apps"):
        params = json.loads(row["params"])
        cls = applications().get(row["app"])
        if cls is None:
            continue
        try:
            refs = cls(params).references()
        except ValidationError:
            continue
        if (kind, old) not in refs:
            continue
        for key in keys:
            if params.get(key) == old:
                params[key] = new
        store.execute("UPDATE dialplan_apps SET params = ? WHERE id = ?", (json.dumps(params), row["id"]))


def rename_object(store: Store, kind: str, old: str, new: str) -> None:
    """Rename a procedure, switch, time range or call group; applications follow.

    Runs inside the caller's transaction; the caller publishes.
    """
    table, what = REFERENCE_TABLES[kind]
    new = check_name(new, what)
    _require(store, kind, old)
    if store.one(f"SELECT 1 FROM {table} WHERE name = ?", (new,)):
        raise Conflict(f"{what} {new!r} already exists")
    store.execute(f"UPDATE {table} SET name = ? WHERE name = ?", (new, old))
    _rename_in_params(store, kind, old, new)


# -- the whole-dialplan check ----------------------------------------------------------
def check(store: Store) -> None:
    """Refuse a dialplan with bad data; called inside the writing transaction."""
    known = applications()
    existing = {kind: {r["name"] for r in store.all(f"SELECT name FROM {table}")}
                for kind, (table, _) in REFERENCE_TABLES.items()}
    compiled: dict[int, list[CompiledApp]] = {}
    for row in store.all("SELECT a.entry_id, a.app, a.params, a.position, e.procedure, e.pattern"
                         " FROM dialplan_apps a JOIN dialplan_entries e ON e.id = a.entry_id"
                         " ORDER BY a.entry_id, a.position"):
        item = _StoredApp(row["procedure"], row["pattern"], row["position"], row["app"], json.loads(row["params"]))
        cls = known.get(item.name)
        app: Application | None = None
        if cls is None:
            raise ValidationError(f"{item.where()}: unknown application {item.name!r}"
                                  f" (known: {', '.join(sorted(known))})")
        else:
            try:
                app = cls(item.params)
            except ValidationError as err:
                raise ValidationError(f"{item.where()}: {err}") from None
            for kind, name in app.references():
                if name not in existing[kind]:
                    raise ValidationError(f"{item.where()}: no {REFERENCE_TABLES[kind][1]} {name!r}")
        compiled.setdefault(row["entry_id"], []).append(CompiledApp(item.name, item.params, app))
    procs: dict[str, list[Entry]] = {name: [] for name in existing["procedure"]}
    for row in store.all("SELECT id, procedure, pattern FROM dialplan_entries ORDER BY procedure, position"):
        try:
            pattern = compile_pattern(row["pattern"])
        except ValidationError as err:
            raise ValidationError(f"procedure {row['procedure']!r}: {err}") from None
        procs[row["procedure"]].append(Entry(pattern, tuple(compiled.get(row["id"], ()))))
    includes: dict[str, list[str]] = {name: [] for name in procs}
    for row in store.all("SELECT procedure, included FROM procedure_includes ORDER BY position"):
        includes[row["procedure"]].append(row["included"])
    plan = Dialplan({n: Procedure(n, tuple(e), tuple(includes[n])) for n, e in procs.items()})
    _check_goto_loops(plan)


def sample_numbers(pattern: Pattern) -> list[str]:
    """A few numbers the pattern matches (for the loop check)."""
    if pattern.is_default:
        return []
    if pattern.exact:
        return [pattern.text]
    low, high = [], []
    text = pattern.text
    i = 0
    while i < len(text):
        c = text[i].lower()
        if c in "xzn":
            low.append({"x": "0", "z": "1", "n": "2"}[c])
            high.append("9")
        elif c == "[":
            end = text.index("]", i)
            chars = sorted(ch for ch in _set_chars(text[i + 1:end]))
            low.append(chars[0])
            high.append(chars[-1])
            i = end
        elif c == ".":
            low.append("0")
            high.append("9")
        elif c == "!":
            pass
        else:
            low.append(text[i])
            high.append(text[i])
        i += 1
    return list(dict.fromkeys(["".join(low), "".join(high)]))


def _set_chars(body: str) -> set[str]:
    chars: set[str] = set()
    j = 0
    while j < len(body):
        if j + 2 < len(body) and body[j + 1] == "-":
            chars.update(chr(k) for k in range(ord(body[j]), ord(body[j + 2]) + 1))
            j += 3
        else:
            chars.add(body[j])
            j += 1
    return chars


def _forced_jump(entry: Entry, number: str) -> tuple[str, str] | None:
    """The jump this entry makes whatever the call's state, or None."""
    for call in entry.apps:
        if isinstance(call.app, Goto):
            target = call.app.params["number"]
            if target and "${" in target:
                return None
            return call.app.params["procedure"], target or number
        return None  # any other application first: not a forced jump
    return None


def _check_goto_loops(plan: Dialplan) -> None:
    for proc in plan.procedures.values():
        for entry in proc.entries:
            for number in sample_numbers(entry.pattern):
                path = [(proc.name, number)]
                current = (proc.name, number)
                for _ in range(MAX_JUMPS + 1):
                    found = plan.lookup(*current)
                    if found is None:
                        break
                    jump = _forced_jump(found[1], current[1])
                    if jump is None:
                        break
                    if jump in path:
                        chain = " -> ".join(p for p, _ in path + [jump])
                        raise ValidationError(
                            f"loop of gotos for called number {number!r}: {chain}"
                            f" (starting at called number {entry.pattern.text!r} of {proc.name!r})")
                    path.append(jump)
                    current = jump
