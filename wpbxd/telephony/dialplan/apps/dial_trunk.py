"""Dial trunk ("Composer le trunk"): send the call out through one named SIP trunk.

Parameters: ``trunk`` — the trunk's name; ``number`` — what the trunk receives
(default ``${called}``: the called number as the procedure left it, e.g. after
``set_called`` stripped the outside-line 0); ``timeout`` — seconds to ring
(optional; default the PBX ring time).

The number the user dialled is checked against the caller's ACL group before
the trunk is seized (a denied call ends with 403). A trunk that is down (keep-
alive unanswered, registration lost, dynamic peer not registered) or at its
limit of simultaneous calls is not tried: the next application runs, as after
a busy or unanswered call; when nothing else handles the call the caller gets
the trunk's failure code.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan import ringing
from wpbxd.telephony.dialplan.apps.base import (
    CONTINUE,
    STOP,
    Application,
    Step,
    check_number_template,
    expand,
    name_param,
    seconds,
)
from wpbxd.telephony.dialplan.context import CallContext, DialResult, DialStatus

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


def check_trunk_name(params: dict[str, Any], key: str, what: str) -> str:
    name = name_param(params, key, what)
    if len(name) > 64 or not all(c.isalnum() or c in "_.-" for c in name):
        raise ValidationError(f"{what} name {name!r}: 1-64 letters, digits, '_', '-' or '.'", key)
    return name


async def through_trunk(ctx: CallContext, env: "RunEnv", trunk: str, number: str, timeout: float | None,
                        limit: int = 0, procedure: str | None = None, quiet_early: bool = False) -> DialResult:
    """One attempt on one trunk, traced; the result also becomes ``env.last_dial``."""
    env.trace(f"trunk {trunk}: dial {number}" + (f" into procedure {procedure}" if procedure else "")
              + (f" (at most {limit} calls)" if limit else "") + (f" (timeout {timeout:g} s)" if timeout else ""))
    result = await ctx.dial_trunk(trunk, number, timeout, limit=limit, procedure=procedure,
                                  quiet_early=quiet_early)
    env.trace(f"trunk {trunk}: {result.status.value}"
              + (f" ({result.sip_code} {result.reason})" if result.sip_code or result.reason else ""))
    env.last_dial = result
    return result


class DialTrunk(Application):
    name = "dial_trunk"
    description = "Dial trunk"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        trunk = check_trunk_name(params, "trunk", "trunk")
        number = check_number_template(str(params.get("number") or "${called}"), "number")
        return {"trunk": trunk, "number": number, "timeout": seconds(params, "timeout", 1, 3600, None)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        number = expand(self.params["number"], ctx)
        if not await ringing.acl_allows(ctx, env, number):
            return STOP
        result = await through_trunk(ctx, env, self.params["trunk"], number,
                                     self.params["timeout"] or env.plan.ring_time)
        return STOP if result.status in (DialStatus.ANSWERED, DialStatus.CANCELLED) else CONTINUE
