"""Set caller number / name: change the caller id shown to the destination.

Parameters: ``number`` (``${caller}``, ``${called}`` allowed) and/or ``name``.
The call engine uses the new values for the legs it places afterwards.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import (
    CONTINUE,
    Application,
    Step,
    check_number_template,
    expand,
)
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_NAME = 64  # characters


class SetCaller(Application):
    name = "set_caller"
    description = "Set caller number / name"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        number = str(params.get("number") or "").strip()
        name = params.get("name")
        name = None if name is None else str(name).strip()
        if not number and name is None:
            raise ValidationError("give a caller number, a caller name or both", "number")
        if number:
            check_number_template(number, "number")
        if name is not None and (len(name) > MAX_NAME or any(c in name for c in '"\r\n<>')):
            raise ValidationError(f"at most {MAX_NAME} characters, no quotes or <>", "name")
        return {"number": number, "name": name}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        if self.params["number"]:
            number = expand(self.params["number"], ctx)
            env.trace(f"caller number {ctx.caller_number!r} -> {number!r}")
            ctx.caller_number = number
        if self.params["name"] is not None:
            name = expand(self.params["name"], ctx)
            env.trace(f"caller name {ctx.caller_name!r} -> {name!r}")
            ctx.caller_name = name
        return CONTINUE
