"""CDR backend settings as data: which backends are on, their options, the statistics source.

Rows of ``cdr_backends`` (``sqlite``, ``csv``, ``mysql``). Changes go through
``set_backend``/``select_stats``: validate, one transaction, publish
``ConfigChanged('cdr_backends')``. Enabling a backend that was off starts its
delivery after the newest record (it receives the calls from then on); its
cursor ``delivered`` is the highest ``cdr.id`` it holds, so the records after
it are its queue on local storage.

Rule: stores rows only; the delivery itself is in ``service``.
"""

import json
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import NotFound, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.telephony.cdr_backends.backends import IDENT_RE

SECTION = "cdr_backends"
NAMES = ("sqlite", "csv", "mysql")
OPTIONS = {
    "sqlite": (),
    "csv": ("path",),
    "mysql": ("host", "port", "database", "table", "user", "password", "socket"),
}
# Factory rows (name -> enabled, stats); written again when missing, e.g. after a factory reset.
FACTORY = {"sqlite": (1, 1), "csv": (0, 0), "mysql": (0, 0)}
MYSQL_DEFAULTS = {"host": "127.0.0.1", "port": 3306, "database": "", "table": "cdr", "user": "", "password": "",
                  "socket": ""}


def _check_name(name: str) -> str:
    name = str(name or "").strip().lower()
    if name not in NAMES:
        raise NotFound(f"no CDR backend {name!r} (sqlite, csv or mysql)")
    return name


def ensure_factory_rows(store: Store) -> None:
    """Put back the factory row of any backend that has none (a factory reset empties tables)."""
    with store.transaction():
        for backend, (enabled, stats) in FACTORY.items():
            store.execute("INSERT OR IGNORE INTO cdr_backends(name, enabled, stats) VALUES (?, ?, ?)",
                          (backend, enabled, stats))


def get_backend(store: Store, name: str) -> dict[str, Any]:
    query = "SELECT name, enabled, options, delivered, stats FROM cdr_backends WHERE name = ?"
    row = store.one(query, (_check_name(name),))
    if row is None:
        ensure_factory_rows(store)
        row = store.one(query, (name,))
        if row is None:
            raise NotFound(f"no CDR backend {name!r}")
    options = json.loads(row["options"])
    if row["name"] == "mysql":
        options = {**MYSQL_DEFAULTS, **options}
    return {"name": row["name"], "enabled": bool(row["enabled"]), "options": options,
            "delivered": row["delivered"], "stats": bool(row["stats"])}


def list_backends(store: Store) -> list[dict[str, Any]]:
    return [get_backend(store, n) for n in NAMES]


def public(backend: dict[str, Any]) -> dict[str, Any]:
    options = dict(backend["options"])
    if options.get("password"):
        options["password"] = "********"
    return {**backend, "options": options}


def _check_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k in options if k not in OPTIONS[name]]
    if unknown:
        raise ValidationError(f"unknown option(s) {', '.join(unknown)} for {name}", "options")
    if name == "mysql":
        try:
            port = int(options.get("port", 3306))
        except (TypeError, ValueError):
            raise ValidationError("must be a port number", "port") from None
        if not 1 <= port <= 65535:
            raise ValidationError("must be 1-65535", "port")
        options["port"] = port
        if "table" in options and not IDENT_RE.match(str(options["table"])):
            raise ValidationError("letters, digits and '_' only (1-64)", "table")
    if name == "csv" and "path" in options and not str(options["path"]).startswith("/"):
        raise ValidationError("must be an absolute path", "path")
    return options


def set_backend(store: Store, bus: EventBus | None, name: str, enabled: bool | None = None,
                options: dict[str, Any] | None = None) -> dict[str, Any]:
    name = _check_name(name)
    with store.transaction():
        current = get_backend(store, name)
        merged = {**current["options"], **_check_options(name, dict(options or {}))}
        if name == "mysql":
            merged = {k: v for k, v in merged.items() if k in OPTIONS["mysql"]}
            if (enabled or (enabled is None and current["enabled"])) and not merged.get("database"):
                raise ValidationError("is required to enable the MySQL backend", "database")
        on = current["enabled"] if enabled is None else bool(enabled)
        if name == "sqlite" and not on and current["stats"]:
            raise ValidationError("the statistics source cannot be disabled; select another first", "enabled")
        delivered = current["delivered"]
        if on and not current["enabled"]:
            row = store.one("SELECT COALESCE(MAX(id), 0) AS m FROM cdr")
            delivered = int(row["m"]) if row else 0
        store.execute("UPDATE cdr_backends SET enabled = ?, options = ?, delivered = ? WHERE name = ?",
                      (int(on), json.dumps(merged), delivered, name))
    if bus is not None:
        bus.publish(ConfigChanged(SECTION, name))
    return get_backend(store, name)


def select_stats(store: Store, bus: EventBus | None, name: str) -> dict[str, Any]:
    """Make ``name`` the one backend statistics are read from (it must be enabled)."""
    name = _check_name(name)
    with store.transaction():
        if not get_backend(store, name)["enabled"]:
            raise ValidationError(f"enable the {name} backend before selecting it for statistics", "stats")
        store.execute("UPDATE cdr_backends SET stats = (name = ?)", (name,))
    if bus is not None:
        bus.publish(ConfigChanged(SECTION, "stats"))
    return get_backend(store, name)


def mark_delivered(store: Store, name: str, last_id: int) -> None:
    with store.transaction():
        store.execute("UPDATE cdr_backends SET delivered = MAX(delivered, ?) WHERE name = ?", (int(last_id), name))


def pending(store: Store, name: str, after: int, limit: int) -> list[dict[str, Any]]:
    rows = store.all("SELECT * FROM cdr WHERE id > ? ORDER BY id LIMIT ?", (int(after), int(limit)))
    return [dict(r) for r in rows]
