"""Trunk group ("Faisceau"): least-cost routing with failover over ordered trunks.

Parameters: ``group`` — the trunk group's name (WMS -> Trunks -> Faisceau);
``timeout`` — seconds a trunk may ring when its member sets no delay (optional;
default the PBX ring time).

The group's members are tried in order. For each: its digits rule (strip N
leading digits, add a prefix) makes the number it receives from the called
number; its maximum of simultaneous calls (or the trunk's own) and its state
decide whether it is tried at all; its *delay* is how long the group waits on
it before giving up on it and trying the next. A member that is down, busy,
congested (503), at its limit, or times out makes the group try the next; a
member that refuses the number (403/603) or does not know it (404/484) ends the
hunt, as another trunk would say the same. The caller hears one continuous
ringback (early media of the trunks is not passed on while hunting). When no
member connects, the most meaningful cause is kept: busy before no answer,
before refused, before unknown number, before congestion, before no trunk
available.

The ACL class of the number the user dialled is checked once, before any
trunk is seized.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan import ringing
from wpbxd.telephony.dialplan.apps.base import CONTINUE, STOP, Application, Step, seconds
from wpbxd.telephony.dialplan.apps.dial_trunk import check_trunk_name, through_trunk
from wpbxd.telephony.dialplan.context import CallContext, DialResult, DialStatus

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

TRY_NEXT = (DialStatus.UNAVAILABLE, DialStatus.BUSY, DialStatus.FAILED, DialStatus.NO_ANSWER)
# Lower is more meaningful to the caller.
MEANING = {DialStatus.BUSY: 0, DialStatus.NO_ANSWER: 1, DialStatus.REJECTED: 2, DialStatus.NOT_FOUND: 3,
           DialStatus.FAILED: 4, DialStatus.UNAVAILABLE: 5}


def most_meaningful(results: list[DialResult]) -> DialResult:
    """The failure the caller should hear about (ties: the first in the group's order)."""
    return min(results, key=lambda r: MEANING.get(r.status, 9))


class TrunkGroup(Application):
    name = "trunk_group"
    description = "Trunk group"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"group": check_trunk_name(params, "group", "trunk group"),
                "timeout": seconds(params, "timeout", 1, 3600, None)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        name = self.params["group"]
        members = ctx.trunk_group(name)
        if not members:
            env.trace(f"trunk group {name!r} does not exist or has no trunk")
            env.last_dial = DialResult(DialStatus.UNAVAILABLE, 503, f"no trunk group {name}")
            return CONTINUE
        if not await ringing.acl_allows(ctx, env, ctx.called):
            return STOP
        called = ctx.called
        results: list[DialResult] = []
        for index, member in enumerate(members):
            number = member.digits(called)
            timeout = member.delay or self.params["timeout"] or env.plan.ring_time
            result = await through_trunk(ctx, env, member.trunk, number, timeout, limit=member.max_calls,
                                         quiet_early=True)
            if result.status in (DialStatus.ANSWERED, DialStatus.CANCELLED):
                return STOP
            results.append(result)
            if result.status not in TRY_NEXT:
                env.trace(f"trunk group {name}: {result.status.value} ends the hunt")
                break
            if index + 1 < len(members):
                env.trace(f"trunk group {name}: trying the next trunk")
        final = most_meaningful(results)
        env.trace(f"trunk group {name}: no trunk connected; result {final.status.value}")
        env.last_dial = final
        return CONTINUE
