"""Hangup: end the call with a cause (a SIP status code 400–699, default 480)."""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import STOP, Application, Step
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


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

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        env.trace(f"hangup {self.params['code']}" + (f" {self.params['reason']}" if self.params["reason"] else ""))
        await env.hangup(ctx, self.params["code"], self.params["reason"])
        return STOP
