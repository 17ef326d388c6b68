"""Call group ("Groupe d'appel"): ring the members of a group by its strategy.

Parameters: ``group``; ``timeout`` — seconds before the next application runs
(default: the group's timeout; seed: "si personne ne répond dans les 20
secondes … messagerie vocale").

Strategies (stored with the group): ``ringall`` rings every member at once;
``linear`` rings them one after the other in order (hunt); ``roundrobin`` like
linear but starting after the member rung last time; ``random`` in a random
order; ``leastrecent`` starting with the member who answered least recently.
Each member rings for its own ring time (default: the group's). Members with do
not disturb, not registered, or busy (in a call, unless the group rings members
in use and the member's call waiting is on) are skipped.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan import ringing
from wpbxd.telephony.dialplan.apps.base import (
    CONTINUE,
    STOP,
    Application,
    Step,
    name_param,
    seconds,
)
from wpbxd.telephony.dialplan.context import CallContext, DialResult, DialStatus, DialTarget

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_TIMEOUT = 3600  # seconds
DONE = (DialStatus.ANSWERED, DialStatus.CANCELLED)


class CallGroupApp(Application):
    name = "call_group"
    description = "Call group"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"group": name_param(params, "group", "call group"),
                "timeout": seconds(params, "timeout", 1, MAX_TIMEOUT, None)}

    def references(self) -> list[tuple[str, str]]:
        return [("call_group", self.params["group"])]

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        group = env.plan.groups.get(self.params["group"])
        if group is None:
            env.trace(f"call group {self.params['group']!r} does not exist: skipped")
            return CONTINUE
        timeout = self.params["timeout"] or group.timeout
        env.trace(f"call group {group.name} ({group.strategy}, timeout {timeout:g} s)")
        for member in group.members:
            if not await ringing.acl_allows(ctx, env, member.extension):
                return STOP
        if group.strategy == "ringall":
            targets = []
            for member in group.members:
                why = ringing.skip_reason(ctx, env, member.extension, group.ring_in_use)
                if why:
                    env.trace(f"member {member.extension} skipped: {why}")
                else:
                    targets.append(DialTarget(member.extension, 0.0, float(group.member_ring_time(member))))
            if not targets:
                return self._nobody(env)
            result = await ringing.ring(ctx, env, targets, timeout)
            return STOP if result.status in DONE else CONTINUE
        deadline = env.clock() + timeout
        tried = False
        for member in env.plan.memory.order(group):
            left = deadline - env.clock()
            if left <= 0:
                env.trace(f"call group {group.name}: timeout reached")
                break
            why = ringing.skip_reason(ctx, env, member.extension, group.ring_in_use)
            if why:
                env.trace(f"member {member.extension} skipped: {why}")
                continue
            tried = True
            env.plan.memory.last_rung[group.name] = member.extension
            ring_time = min(float(group.member_ring_time(member)), left)
            result = await ringing.ring(ctx, env, [DialTarget(member.extension, 0.0, ring_time)], ring_time)
            if result.status in DONE:
                return STOP
        if not tried:
            return self._nobody(env)
        env.last_dial = DialResult(DialStatus.NO_ANSWER, 480, "No Answer")
        env.trace(f"call group {group.name}: nobody answered")
        return CONTINUE

    @staticmethod
    def _nobody(env: "RunEnv") -> Step:
        env.trace("call group: no member can take the call")
        env.last_dial = DialResult(DialStatus.BUSY, 486, "Busy Here")
        return CONTINUE
