"""Mobility extension lookup ("Recherche de l'Extension de Mobilité").

If the caller's number is one of the users' mobility numbers, the call continues
in that user's own procedure (default ``users``) as if it came from their desk
phone: the caller number becomes the user's extension. Parameter ``number`` —
the called number to continue with (``${called}`` allowed; default: unchanged).
Otherwise the next application runs. Option ``d`` of the seed (hang up and call
back) is not built yet and is refused at save time.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import (
    CONTINUE,
    Application,
    Jump,
    Step,
    check_number_template,
    expand,
)
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


class MobilityLookup(Application):
    name = "mobility_lookup"
    description = "Mobility extension lookup"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        options = str(params.get("options") or "").strip()
        if options:
            raise ValidationError(
                f"option {options!r} is not available yet (the call-back option 'd' is not built yet)", "options")
        number = str(params.get("number") or "").strip()
        if number:
            check_number_template(number, "number")
        return {"number": number}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        user = env.plan.by_mobility.get(ctx.caller_number)
        if user is None:
            env.trace(f"mobility lookup: {ctx.caller_number!r} is no user's mobile number")
            return CONTINUE
        number = expand(self.params["number"], ctx) if self.params["number"] else None
        env.trace(f"mobility lookup: {ctx.caller_number!r} is the mobile of {user.extension} ({user.name});"
                  f" continuing in {user.dialplan} as {user.extension}")
        ctx.caller_number, ctx.caller_name = user.extension, user.name
        env.acl_number = number or ctx.called   # from now on the user's own ACL applies to this number
        return Jump(user.dialplan, number)
