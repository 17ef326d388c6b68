"""Call remote PBX ("Appel d'un PBX distant"): route the call through another wpbx.

Parameters: ``pbx`` — the trunk that reaches the other PBX (its name, e.g.
``demo.wildixin.com``); ``procedure`` — the procedure the other PBX runs the
call in (e.g. ``users``); ``number`` — the number sent (default ``${called}``).

The seed's multi-site example: the German PBX sends ``00033...`` to the French
PBX into its ``users`` procedure, where an entry ``00033.`` strips the
international prefix and dials the French PBX's local trunk. The procedure
travels in the INVITE's ``X-Wpbx-Procedure`` header; the receiving PBX honours
it only on calls that come in through one of its trunks, and only when the
procedure exists there. ACL rules apply as for any outgoing call.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan import ringing
from wpbxd.telephony.dialplan.apps.base import (
    CONTINUE,
    STOP,
    Application,
    Step,
    check_number_template,
    expand,
    seconds,
)
from wpbxd.telephony.dialplan.apps.dial_trunk import check_trunk_name, through_trunk
from wpbxd.telephony.dialplan.context import CallContext, DialStatus

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


class RemotePbx(Application):
    name = "remote_pbx"
    description = "Call remote PBX"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"pbx": check_trunk_name(params, "pbx", "remote PBX"),
                "procedure": check_trunk_name(params, "procedure", "procedure"),
                "number": check_number_template(str(params.get("number") or "${called}"), "number"),
                "timeout": seconds(params, "timeout", 1, 3600, None)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        number = expand(self.params["number"], ctx)
        if not await ringing.acl_allows(ctx, env, number):
            return STOP
        result = await through_trunk(ctx, env, self.params["pbx"], number,
                                     self.params["timeout"] or env.plan.ring_time,
                                     procedure=self.params["procedure"])
        return STOP if result.status in (DialStatus.ANSWERED, DialStatus.CANCELLED) else CONTINUE
