"""Wait: let the call sit for ``seconds`` (ringing, or silence once answered).

If the caller hangs up meanwhile, the dialplan stops.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan.apps.base import CONTINUE, STOP, Application, Step, seconds
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_WAIT = 3600  # seconds


class Wait(Application):
    name = "wait"
    description = "Wait"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"seconds": seconds(params, "seconds", 0.1, MAX_WAIT, 1.0)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        env.trace(f"wait {self.params['seconds']:g} s")
        if not await ctx.wait(self.params["seconds"]):
            env.trace("caller hung up while waiting")
            return STOP
        return CONTINUE
