"""The trunk configuration service: control commands over the trunk service functions.

``trunk.add|list|show|set|del``, ``trunkgroup.set|list|show|del`` and
``pricelist.import|list|show|del``. No rule lives here: every check is in
``model`` and ``pricelist``. The live side of trunks (registrations,
keep-alives, calls) runs on the SIP stack (``runtime``), owned by the SIP
service, which answers ``trunks.status``.
"""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from wpbxd.errors import ValidationError
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.telephony.trunks import model, pricelist


def _group_dict(group: model.TrunkGroup) -> dict[str, Any]:
    return {"name": group.name, "members": [asdict(m) for m in group.members]}


class TrunkService:
    name = "trunks"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        store, bus = ctx.store, ctx.bus
        c = ctx.control
        c.register("trunk.add", lambda a: model.add_trunk(store, bus, a).public())
        c.register("trunk.list", lambda a: [t.public() for t in model.list_trunks(store)])
        c.register("trunk.show", lambda a: model.get_trunk(store, str(a.get("name") or "")).public())
        c.register("trunk.set", lambda a: model.update_trunk(
            store, bus, str(a.get("name") or ""), {**a, "name": a.get("new_name")}).public())
        c.register("trunk.del", lambda a: model.delete_trunk(store, bus, str(a.get("name") or "")).public())
        c.register("trunkgroup.set", lambda a: _group_dict(model.set_group(
            store, bus, str(a.get("name") or ""), list(a.get("members") or []))))
        c.register("trunkgroup.list", lambda a: [_group_dict(g) for g in model.list_groups(store)])
        c.register("trunkgroup.show", lambda a: _group_dict(model.get_group(store, str(a.get("name") or ""))))
        c.register("trunkgroup.del", lambda a: model.delete_group(store, bus, str(a.get("name") or "")))
        c.register("pricelist.import", self._import)
        c.register("pricelist.list", lambda a: pricelist.list_lists(store))
        c.register("pricelist.show", self._show_list)
        c.register("pricelist.del", lambda a: pricelist.delete_list(store, bus, str(a.get("name") or "")))
        c.register("pricelist.cost", self._cost)

    def _import(self, args: dict[str, Any]) -> dict[str, Any]:
        plist = pricelist.import_list(self.ctx.store, self.ctx.bus, str(args.get("name") or ""),
                                      str(args.get("csv") or ""))
        return {"name": plist.name, "rows": len(plist.rates)}

    def _show_list(self, args: dict[str, Any]) -> dict[str, Any]:
        plist = pricelist.load(self.ctx.store, str(args.get("name") or ""))
        return {"name": plist.name, "rates": [asdict(r) for r in plist.rates]}

    def _cost(self, args: dict[str, Any]) -> dict[str, Any]:
        """The cost of a call (``number``, ``start`` ISO local time, ``billsec``) under a list."""
        plist = pricelist.load(self.ctx.store, str(args.get("name") or ""))
        try:
            start = datetime.fromisoformat(str(args.get("start")))
            billsec = int(args.get("billsec") or 0)
        except (TypeError, ValueError):
            raise ValidationError("start must be YYYY-MM-DDTHH:MM:SS and billsec a number of seconds") from None
        cost, rate = plist.cost_at(str(args.get("number") or ""), start, billsec)
        return {"cost": cost, "rate": asdict(rate) if rate else None}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def apply(self, config: DaemonConfig) -> None:
        return None

    def describe(self) -> list[str]:
        return []

    def status(self) -> dict[str, Any]:
        store = self.ctx.store
        row = store.one("SELECT COUNT(*) AS n FROM trunks")
        return {"trunks": row["n"] if row else 0}
