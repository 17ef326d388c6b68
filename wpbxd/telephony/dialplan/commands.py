"""Control-socket commands of the dialplan: thin adapters to the service functions.

``dialplan.*`` (procedures, entries, applications, includes, trace), ``switch.*``,
``timerange.*``, ``callgroup.*``, ``acl.*``, ``prefs.*`` and ``smtp.*``. No rule
lives here: every check is in ``procedures``, ``catalog``, ``preferences`` or
``services.smtp``.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.control import ControlServer
from wpbxd.errors import ValidationError
from wpbxd.services import smtp
from wpbxd.telephony.dialplan import catalog, dryrun, preferences, procedures
from wpbxd.telephony.dialplan.apps.registry import applications
from wpbxd.telephony.dialplan.engine import Dialplan
from wpbxd.telephony.trunks import model as trunk_model


def _need(args: dict[str, Any], *keys: str) -> list[Any]:
    values = []
    for key in keys:
        value = args.get(key)
        if value in (None, ""):
            raise ValidationError("is required", key)
        values.append(value)
    return values


def _index(args: dict[str, Any], key: str = "index") -> int:
    try:
        return int(args.get(key)) - 1  # the console counts applications from 1
    except (TypeError, ValueError):
        raise ValidationError("must be an application number (1 is the first)", key) from None


def register(control: ControlServer, store: Store, bus: EventBus,
             current: Callable[[], Dialplan | None]) -> None:
    """Register every command; ``current`` gives the live compiled dialplan (for its memory)."""

    def apps_list(args: dict[str, Any]) -> list[dict[str, str]]:
        return [{"name": name, "description": cls.description, "help": (cls.__doc__ or "").strip()}
                for name, cls in sorted(applications().items())]

    async def trace(args: dict[str, Any]) -> dict[str, Any]:
        caller, called = _need(args, "from", "to")
        procedure = args.get("procedure") or None
        via = str(args.get("via_trunk") or "") or None
        if via is not None:
            procedure = procedure or trunk_model.get_trunk(store, via).procedure
        groups = {g.name: g.members for g in trunk_model.list_groups(store)}
        plan = Dialplan.load(store, current())
        at = dryrun.parse_at(args.get("at"), plan)
        lines, outcome = await dryrun.trace(
            plan, str(caller), str(called), at=at, procedure=procedure,
            assume=args.get("assume") or "answered", busy=tuple(args.get("busy") or ()),
            offline=tuple(args.get("offline") or ()), groups=groups, via_trunk=via)
        return {"lines": lines, "end": outcome.end.value, "sip_code": outcome.sip_code, "reason": outcome.reason}

    async def smtp_test(args: dict[str, Any]) -> str:
        (to,) = _need(args, "to")
        profile = smtp.get_profile(store)
        await asyncio.get_running_loop().run_in_executor(None, smtp.send_test_mail, profile, str(to))
        return f"test mail sent to {to} through {profile.server}:{profile.port}"

    handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
        "dialplan.list": lambda a: procedures.list_procedures(store),
        "dialplan.show": lambda a: procedures.get_procedure(store, *_need(a, "name")),
        "dialplan.add": lambda a: procedures.add_procedure(store, bus, *_need(a, "name"), a.get("description") or ""),
        "dialplan.set": lambda a: procedures.update_procedure(
            store, bus, *_need(a, "name"), new_name=a.get("new_name"), description=a.get("description")),
        "dialplan.del": lambda a: procedures.delete_procedure(store, bus, *_need(a, "name")),
        "dialplan.includes": lambda a: procedures.set_includes(store, bus, *_need(a, "name"), list(a.get("includes") or [])),
        "dialplan.entry.add": lambda a: procedures.add_entry(
            store, bus, *_need(a, "procedure", "pattern"), a.get("apps") or [], a.get("position")),
        "dialplan.entry.del": lambda a: procedures.delete_entry(store, bus, *_need(a, "procedure", "pattern")),
        "dialplan.app.add": lambda a: procedures.add_app(
            store, bus, *_need(a, "procedure", "pattern", "app"), a.get("params") or {},
            None if a.get("position") is None else _index(a, "position")),
        "dialplan.app.del": lambda a: procedures.delete_app(store, bus, *_need(a, "procedure", "pattern"), _index(a)),
        "dialplan.app.move": lambda a: procedures.move_app(
            store, bus, *_need(a, "procedure", "pattern"), _index(a), _index(a, "to")),
        "dialplan.apps": apps_list,
        "dialplan.trace": trace,
        "switch.list": lambda a: catalog.list_switches(store),
        "switch.add": lambda a: catalog.add_switch(store, bus, *_need(a, "name"), a.get("states") or 2,
                                                   a.get("state") or "off"),
        "switch.set": lambda a: catalog.set_switch(store, bus, *_need(a, "name", "state")),
        "switch.del": lambda a: catalog.delete_switch(store, bus, *_need(a, "name")),
        "switch.rename": lambda a: catalog.rename(store, bus, "switch", *_need(a, "name", "new_name")),
        "timerange.rename": lambda a: catalog.rename(store, bus, "time_range", *_need(a, "name", "new_name")),
        "callgroup.rename": lambda a: catalog.rename(store, bus, "call_group", *_need(a, "name", "new_name")),
        "timerange.list": lambda a: catalog.list_time_ranges(store),
        "timerange.set": lambda a: catalog.set_time_range(store, bus, *_need(a, "name"), a.get("weekly"),
                                                          a.get("exceptions")),
        "timerange.exception": lambda a: catalog.add_exception(store, bus, *_need(a, "name", "date"),
                                                               a.get("open") or []),
        "timerange.del": lambda a: catalog.delete_time_range(store, bus, *_need(a, "name")),
        "callgroup.list": lambda a: catalog.list_groups(store),
        "callgroup.set": lambda a: catalog.set_group(
            store, bus, *_need(a, "name"), strategy=a.get("strategy"), ring_time=a.get("ring_time"),
            timeout=a.get("timeout"), ring_in_use=a.get("ring_in_use"), members=a.get("members")),
        "callgroup.del": lambda a: catalog.delete_group(store, bus, *_need(a, "name")),
        "acl.list": lambda a: catalog.list_acl(store),
        "acl.set": lambda a: catalog.set_acl(store, bus, *_need(a, "name"), list(a.get("allowed") or [])),
        "prefs.show": lambda a: preferences.get_prefs(store, *_need(a, "user")),
        "prefs.set": lambda a: preferences.set_prefs(store, bus, *_need(a, "user"), a.get("class") or "all",
                                                     dict(a.get("values") or {})),
        "smtp.show": lambda a: smtp.get_profile(store).public(),
        "smtp.set": lambda a: smtp.set_profile(store, bus, dict(a.get("values") or {})).public(),
        "smtp.test": smtp_test,
    }
    for name, handler in handlers.items():
        control.register(name, handler)
