"""Time ranges, switches, call groups and ACL groups: the objects procedures name.

Service functions with the same shape as ``procedures``: validate, write in one
transaction, publish ``ConfigChanged('dialplan')``. An object an application
still uses cannot be deleted (the message names where it is used); a rename
makes the applications follow.

Rule: this module writes rows; it never runs a call.
"""

import json
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import Conflict, NotFound, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.telephony.dialplan import procedures, timeranges
from wpbxd.telephony.dialplan.callclass import CLASSES
from wpbxd.telephony.dialplan.model import STRATEGIES, SWITCH_STATES

MAX_SECONDS = 3600


def _publish(bus: EventBus | None, key: str) -> None:
    if bus is not None:
        bus.publish(ConfigChanged(procedures.SECTION, key))


def _seconds(value: Any, field: str, lo: int = 1) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"must be a whole number of seconds, not {value!r}", field) from None
    if not lo <= number <= MAX_SECONDS:
        raise ValidationError(f"must be between {lo} and {MAX_SECONDS} seconds", field)
    return number


def _delete_checked(store: Store, kind: str, table: str, what: str, name: str) -> None:
    with store.transaction():
        if store.one(f"SELECT 1 FROM {table} WHERE name = ?", (name,)) is None:
            raise NotFound(f"no {what} {name!r}")
        used = procedures.users_of(store, kind, name)
        if used:
            raise ValidationError(f"{what} {name!r} is used by {used[0]}")
        store.execute(f"DELETE FROM {table} WHERE name = ?", (name,))


def rename(store: Store, bus: EventBus | None, kind: str, old: str, new: str) -> str:
    """Rename a switch, time range or call group; the applications using it follow."""
    if kind not in ("switch", "time_range", "call_group"):
        raise ValidationError("only switches, time ranges and call groups are renamed here", "kind")
    with store.transaction():
        procedures.rename_object(store, kind, old, new)
    _publish(bus, new)
    return new


# -- time ranges -----------------------------------------------------------------
def list_time_ranges(store: Store) -> list[dict[str, Any]]:
    return [{"name": r["name"], "weekly": json.loads(r["weekly"]), "exceptions": json.loads(r["exceptions"])}
            for r in store.all("SELECT * FROM time_ranges ORDER BY name")]


def get_time_range(store: Store, name: str) -> dict[str, Any]:
    for item in list_time_ranges(store):
        if item["name"] == name:
            return item
    raise NotFound(f"no time range {name!r}")


def set_time_range(store: Store, bus: EventBus | None, name: str, weekly: Any = None,
                   exceptions: Any = None) -> dict[str, Any]:
    """Create or change a time range: weekly opening grid and/or dated exceptions."""
    name = procedures.check_name(name, "time range")
    with store.transaction():
        row = store.one("SELECT weekly, exceptions FROM time_ranges WHERE name = ?", (name,))
        week = json.loads(row["weekly"]) if row else {}
        exc = json.loads(row["exceptions"]) if row else []
        if weekly is not None:
            week = timeranges.parse_grid_text(weekly) if isinstance(weekly, str) else weekly
            timeranges.parse_weekly(week)
        if exceptions is not None:
            timeranges.parse_exceptions(exceptions)
            exc = exceptions
        store.execute("INSERT INTO time_ranges(name, weekly, exceptions) VALUES (?, ?, ?)"
                      " ON CONFLICT(name) DO UPDATE SET weekly = excluded.weekly, exceptions = excluded.exceptions",
                      (name, json.dumps(week), json.dumps(exc)))
    _publish(bus, name)
    return get_time_range(store, name)


def add_exception(store: Store, bus: EventBus | None, name: str, day: str,
                  opening: list[list[str]] | None = None) -> dict[str, Any]:
    """Add (or replace) one dated exception; no opening intervals means closed all day."""
    current = get_time_range(store, name)
    exc = [e for e in current["exceptions"] if e.get("date") != day]
    exc.append({"date": day, "open": opening or []})
    return set_time_range(store, bus, name, exceptions=exc)


def delete_time_range(store: Store, bus: EventBus | None, name: str) -> None:
    _delete_checked(store, "time_range", "time_ranges", "time range", name)
    _publish(bus, name)


# -- switches ---------------------------------------------------------------------
def list_switches(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.all("SELECT name, states, state FROM switches ORDER BY name")]


def add_switch(store: Store, bus: EventBus | None, name: str, states: int = 2, state: str = "off") -> dict[str, Any]:
    name = procedures.check_name(name, "switch")
    try:
        states = int(states)
    except (TypeError, ValueError):
        raise ValidationError("a switch has 2 or 3 states", "states") from None
    if states not in SWITCH_STATES:
        raise ValidationError("a switch has 2 or 3 states", "states")
    if state not in SWITCH_STATES[states]:
        raise ValidationError(f"must be one of {', '.join(SWITCH_STATES[states])}", "state")
    with store.transaction():
        if store.one("SELECT 1 FROM switches WHERE name = ?", (name,)):
            raise Conflict(f"switch {name!r} already exists")
        store.execute("INSERT INTO switches(name, states, state) VALUES (?, ?, ?)", (name, states, state))
    _publish(bus, name)
    return {"name": name, "states": states, "state": state}


def set_switch(store: Store, bus: EventBus | None, name: str, state: str) -> dict[str, Any]:
    with store.transaction():
        row = store.one("SELECT states FROM switches WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no switch {name!r}")
        allowed = SWITCH_STATES[row["states"]]
        if state not in allowed:
            raise ValidationError(f"switch {name!r} has the states {', '.join(allowed)}", "state")
        store.execute("UPDATE switches SET state = ? WHERE name = ?", (state, name))
    _publish(bus, name)
    return {"name": name, "states": row["states"], "state": state}


def delete_switch(store: Store, bus: EventBus | None, name: str) -> None:
    _delete_checked(store, "switch", "switches", "switch", name)
    _publish(bus, name)


# -- call groups --------------------------------------------------------------------
def list_groups(store: Store) -> list[dict[str, Any]]:
    out = []
    for r in store.all("SELECT * FROM call_groups ORDER BY name"):
        members = [{"extension": m["extension"], "ring_time": m["ring_time"]} for m in store.all(
            "SELECT u.extension, m.ring_time FROM call_group_members m JOIN users u ON u.id = m.user_id"
            " WHERE m.group_name = ? ORDER BY m.position",
            (r["name"],))]
        out.append({**dict(r), "ring_in_use": bool(r["ring_in_use"]), "members": members})
    return out


def get_group(store: Store, name: str) -> dict[str, Any]:
    for group in list_groups(store):
        if group["name"] == name:
            return group
    raise NotFound(f"no call group {name!r}")


def set_group(store: Store, bus: EventBus | None, name: str, *, strategy: str | None = None,
              ring_time: Any = None, timeout: Any = None, ring_in_use: bool | None = None,
              members: list[Any] | None = None) -> dict[str, Any]:
    """Create or change a call group; ``members`` replaces the ordered member list.

    A member is an extension, ``"EXT:SECONDS"`` or ``{"extension", "ring_time"}``.
    """
    name = procedures.check_name(name, "call group")
    if strategy is not None and strategy not in STRATEGIES:
        raise ValidationError(f"must be one of {', '.join(STRATEGIES)}", "strategy")
    rt = _seconds(ring_time, "ring_time") if ring_time is not None else None
    to = _seconds(timeout, "timeout") if timeout is not None else None
    parsed = _members(store, members) if members is not None else None
    with store.transaction():
        if store.one("SELECT 1 FROM call_groups WHERE name = ?", (name,)) is None:
            store.execute("INSERT INTO call_groups(name) VALUES (?)", (name,))
        for column, value in (("strategy", strategy), ("ring_time", rt), ("timeout", to),
                              ("ring_in_use", None if ring_in_use is None else int(bool(ring_in_use)))):
            if value is not None:
                store.execute(f"UPDATE call_groups SET {column} = ? WHERE name = ?", (value, name))
        if parsed is not None:
            store.execute("DELETE FROM call_group_members WHERE group_name = ?", (name,))
            for position, (user_id, member_rt) in enumerate(parsed):
                store.execute("INSERT INTO call_group_members(group_name, user_id, position, ring_time)"
                              " VALUES (?, ?, ?, ?)", (name, user_id, position, member_rt))
    _publish(bus, name)
    return get_group(store, name)


def _members(store: Store, members: list[Any]) -> list[tuple[int, int | None]]:
    """(user id, ring time) of each member, in order."""
    out: list[tuple[int, int | None]] = []
    for item in members:
        if isinstance(item, dict):
            ext, rt = str(item.get("extension", "")).strip(), item.get("ring_time")
        else:
            ext, _, rt_s = str(item).strip().partition(":")
            rt = rt_s or None
        row = store.one("SELECT id FROM users WHERE extension = ?", (ext,))
        if row is None:
            raise ValidationError(f"no user with extension {ext!r}", "members")
        if any(row["id"] == u for u, _ in out):
            raise ValidationError(f"extension {ext} is twice in the group", "members")
        out.append((row["id"], _seconds(rt, "members") if rt not in (None, "") else None))
    return out


def delete_group(store: Store, bus: EventBus | None, name: str) -> None:
    _delete_checked(store, "call_group", "call_groups", "call group", name)
    _publish(bus, name)


# -- ACL groups ---------------------------------------------------------------------
def list_acl(store: Store) -> list[dict[str, Any]]:
    return [{"name": r["name"], "allowed": json.loads(r["allowed_classes"])}
            for r in store.all("SELECT name, allowed_classes FROM acl_groups ORDER BY name")]


def set_acl(store: Store, bus: EventBus | None, name: str, allowed: list[str]) -> dict[str, Any]:
    """Create or change an ACL group: the call classes its users may call."""
    name = procedures.check_name(name, "ACL group")
    bad = [c for c in allowed if c not in CLASSES]
    if bad:
        raise ValidationError(f"unknown call class {bad[0]!r} (classes: {', '.join(CLASSES)})", "allowed")
    ordered = [c for c in CLASSES if c in allowed]
    with store.transaction():
        store.execute("INSERT INTO acl_groups(name, allowed_classes) VALUES (?, ?) ON CONFLICT(name)"
                      " DO UPDATE SET allowed_classes = excluded.allowed_classes", (name, json.dumps(ordered)))
    _publish(bus, name)
    return {"name": name, "allowed": ordered}
