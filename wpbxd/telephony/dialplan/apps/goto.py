"""Go to procedure: continue the call in another procedure, optionally with a new
called number (parameters ``procedure``, ``number``; ``${called}`` allowed)."""

from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan.apps.base import (
    Application,
    Jump,
    Step,
    check_number_template,
    expand,
    name_param,
)
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


class Goto(Application):
    name = "goto"
    description = "Go to procedure"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        procedure = name_param(params, "procedure", "procedure")
        number = str(params.get("number") or "").strip()
        if number:
            check_number_template(number, "number")
        return {"procedure": procedure, "number": number}

    def references(self) -> list[tuple[str, str]]:
        return [("procedure", self.params["procedure"])]

    def jumps(self) -> list[tuple[str, bool]]:
        return [(self.params["procedure"], not self.params["number"])]

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        number = expand(self.params["number"], ctx) if self.params["number"] else None
        return Jump(self.params["procedure"], number)
