"""Switch check ("Vérification du switch"): route by a switch's state.

Parameters: ``switch``; ``on`` — procedure when the switch is on; for a
three-state switch also ``off`` and ``extra``. A state without a procedure lets
the next application run. Switch states change with ``wpbxctl switch set``.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import CONTINUE, Application, Jump, Step, name_param
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

STATES = ("on", "off", "extra")


class SwitchCheck(Application):
    name = "switch_check"
    description = "Switch check"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"switch": name_param(params, "switch", "switch")}
        for state in STATES:
            out[state] = str(params.get(state) or "").strip()
        if not any(out[s] for s in STATES):
            raise ValidationError("give the procedure for at least one state (on, off, extra)", "on")
        return out

    def references(self) -> list[tuple[str, str]]:
        return [("switch", self.params["switch"])] + [
            ("procedure", self.params[s]) for s in STATES if self.params[s]]

    def jumps(self) -> list[tuple[str, bool]]:
        return [(self.params[s], False) for s in STATES if self.params[s]]

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        name = self.params["switch"]
        switch = env.plan.switches.get(name)
        if switch is None:
            env.trace(f"switch {name!r} does not exist: check skipped")
            return CONTINUE
        target = self.params.get(switch.state, "")
        env.trace(f"switch {name} is {switch.state}" + (f" -> {target}" if target else ": continue"))
        return Jump(target) if target else CONTINUE
