"""Dial ("Appeler utilisateur ou numéro"): ring one or more extensions or a number.

Parameters: ``target`` — one destination or several separated by ``&``
(``${called}`` is the called number); ``timeout`` — seconds to ring (optional).
When the call is answered the dialplan stops; when nobody answers before the
timeout (or everybody is busy or unavailable), the next application runs and the
caller would get the failure's SIP code if nothing else handles the call.
"""

from typing import Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import CONTINUE, STOP, Application, Step, expand
from wpbxd.telephony.dialplan.context import CallContext, DialStatus


class Dial(Application):
    name = "dial"
    description = "Call user or number"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        target = str(params.get("target", "")).strip()
        if not target:
            raise ValidationError("dial needs a target (extension, number or ${called})", "target")
        timeout = params.get("timeout")
        if timeout not in (None, ""):
            try:
                timeout = float(timeout)
            except (TypeError, ValueError):
                raise ValidationError("timeout must be a number of seconds", "timeout") from None
            if not 0 < timeout <= 3600:
                raise ValidationError("timeout must be between 1 and 3600 seconds", "timeout")
        else:
            timeout = None
        return {"target": target, "timeout": timeout}

    async def run(self, ctx: CallContext) -> Step:
        targets = [expand(t.strip(), ctx) for t in self.params["target"].split("&") if t.strip()]
        ctx.trace(f"dial {' & '.join(targets)}"
                  + (f" for {self.params['timeout']:g} s" if self.params["timeout"] else ""))
        result = await ctx.dial(targets, self.params["timeout"])
        ctx.trace(f"dial ended: {result.status.value}"
                  + (f" ({result.sip_code} {result.reason})" if result.sip_code else ""))
        ctx.last_dial = result  # type: ignore[attr-defined]
        if result.status in (DialStatus.ANSWERED, DialStatus.CANCELLED):
            return STOP
        return CONTINUE
