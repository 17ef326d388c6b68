"""Answer: answer the call (200 OK) before the next applications (e.g. wait, IVR)."""

from typing import TYPE_CHECKING

from wpbxd.telephony.dialplan.apps.base import CONTINUE, Application, Step
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


class Answer(Application):
    name = "answer"
    description = "Answer"

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        env.trace("answer")
        await ctx.answer()
        return CONTINUE
