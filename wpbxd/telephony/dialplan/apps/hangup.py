"""Hangup: end the call with a cause (a SIP status code 400–699, default 480) and
an optional reason phrase (default: the standard phrase of the code)."""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import STOP, Application, Step
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


REASONS = {  # RFC 3261 section 21 phrases for the codes admins use most
    403: "Forbidden", 404: "Not Found", 480: "Temporarily Unavailable", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error",
    503: "Service Unavailable", 600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
}


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
        reason = str(params.get("reason") or "").strip()
        if any(c in reason for c in "\r\n"):
            raise ValidationError("the reason must be one line", "reason")
        return {"code": code, "reason": reason}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        code = self.params["code"]
        reason = self.params["reason"] or REASONS.get(code, "")
        env.trace(f"hangup {code} {reason}".rstrip())
        await env.hangup(ctx, code, reason)
        return STOP
