"""Hangup: end the call with a cause (a SIP status code, default 480)."""

from typing import Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import STOP, Application, Step
from wpbxd.telephony.dialplan.context import CallContext


class Hangup(Application):
    name = "hangup"
    description = "Hang up"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        try:
            code = int(params.get("code", 480))
        except (TypeError, ValueError):
            raise ValidationError("code must be a SIP status code", "code") from None
        if not 400 <= code <= 699:
            raise ValidationError("code must be between 400 and 699", "code")
        return {"code": code, "reason": str(params.get("reason", ""))}

    async def run(self, ctx: CallContext) -> Step:
        ctx.trace(f"hangup {self.params['code']}")
        await ctx.hangup(self.params["code"], self.params["reason"])
        return STOP
