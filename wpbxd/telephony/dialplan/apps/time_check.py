"""Time range check ("Vérification de la plage horaire"): jump when closed (or open).

Parameters: ``range`` — the time range; ``procedure`` — where to go; ``when`` —
``closed`` (default: jump outside the opening hours, seed: "bureau_fermé") or
``open``. Hours are read in the PBX time zone; dated exceptions (holidays)
override the weekly grid. Otherwise the next application runs.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import CONTINUE, Application, Jump, Step, name_param
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


class TimeCheck(Application):
    name = "time_check"
    description = "Time range check"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        when = str(params.get("when") or "closed").strip().lower()
        if when not in ("closed", "open"):
            raise ValidationError("must be 'closed' or 'open'", "when")
        return {"range": name_param(params, "range", "time range"),
                "procedure": name_param(params, "procedure", "procedure"), "when": when}

    def references(self) -> list[tuple[str, str]]:
        return [("time_range", self.params["range"]), ("procedure", self.params["procedure"])]

    def jumps(self) -> list[tuple[str, bool]]:
        return [(self.params["procedure"], False)]

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        name = self.params["range"]
        time_range = env.plan.time_ranges.get(name)
        if time_range is None:
            env.trace(f"time range {name!r} does not exist: check skipped")
            return CONTINUE
        now = env.now_local()
        is_open = time_range.is_open(now)
        env.trace(f"time range {name}: {time_range.why(now)} at {now.strftime('%Y-%m-%d %H:%M %Z')}")
        if is_open == (self.params["when"] == "open"):
            return Jump(self.params["procedure"])
        return CONTINUE
