"""Set called number ("Installer" / "Personnalisé"): change the number being routed.

Parameters (``number`` alone, or ``strip`` and/or ``prefix``):
``number`` — replace the called number (``${called}``, ``${caller}`` allowed);
``strip`` — remove the first N digits (seed SDA example: strip 8 of 04611715111
gives 111; remote-PBX example: strip 5 of 000331234567890 gives 1234567890);
``prefix`` — then add these digits in front. The next applications, and any
procedure jumped to, see the new number.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import (
    CONTINUE,
    NUMBER_RE,
    Application,
    Step,
    check_number_template,
    expand,
)
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_STRIP = 30


class SetCalled(Application):
    name = "set_called"
    description = "Set called number"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        number = str(params.get("number") or "").strip()
        prefix = str(params.get("prefix") or "").strip()
        strip_raw = params.get("strip")
        strip = 0
        if strip_raw not in (None, ""):
            try:
                strip = int(strip_raw)
            except (TypeError, ValueError):
                raise ValidationError(f"must be a whole number of digits, not {strip_raw!r}", "strip") from None
            if not 0 <= strip <= MAX_STRIP:
                raise ValidationError(f"must be between 0 and {MAX_STRIP}", "strip")
        if number and (strip or prefix):
            raise ValidationError("give either a new number, or strip/prefix, not both", "number")
        if not (number or strip or prefix):
            raise ValidationError("give a new number, digits to strip or a prefix", "number")
        if number:
            check_number_template(number, "number")
        if prefix and not NUMBER_RE.match(prefix):
            raise ValidationError(f"{prefix!r} is not digits (+, *, # allowed)", "prefix")
        return {"number": number, "strip": strip, "prefix": prefix}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        before = ctx.called
        if self.params["number"]:
            after = expand(self.params["number"], ctx)
        else:
            after = self.params["prefix"] + before[self.params["strip"]:]
        if not after:
            env.trace(f"set called number: stripping {self.params['strip']} digits of {before!r} leaves nothing;"
                      " number kept")
            return CONTINUE
        ctx.called = after
        env.trace(f"called number {before!r} -> {after!r}")
        return CONTINUE
