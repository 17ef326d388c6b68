"""Switch toggle (feature code 93, seed: "Modifier l'état d'un switch"): the caller types a
switch (its name when it is a number, else its number in name order) and the
switch moves to its next state (off -> on -> [extra ->] off); the new state is said.

Parameters: ``switch`` — toggle this switch without asking (optional).
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import NotFound
from wpbxd.telephony.dialplan.apps.base import STOP, Application, Step
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import MediaUnavailable, open_media
from wpbxd.telephony.media.channel import ChannelClosed

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

FIRST_KEY = 10.0
NEXT_KEY = 5.0
MAX_DIGITS = 8


class SwitchToggle(Application):
    name = "switch_toggle"
    description = "Switch toggle"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"switch": str(params.get("switch") or "").strip()}

    def references(self) -> list[tuple[str, str]]:
        return [("switch", self.params["switch"])] if self.params["switch"] else []

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        try:
            media = await open_media(ctx, env)
            ident = self.params["switch"]
            if not ident:
                await media.say("switch_enter", "0123456789")
                ident = await media.channel.collect_digits(MAX_DIGITS, FIRST_KEY, NEXT_KEY)
            try:
                name, state = media.services.toggle_switch(ident)
            except NotFound:
                env.trace(f"switch toggle: no switch {ident!r}")
                await media.say("invalid")
            else:
                env.trace(f"switch {name!r} is now {state}")
                await media.say(f"switch_{state}")
            await media.say("goodbye")
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        except ChannelClosed:
            env.trace("caller hung up during switch toggle")
            return STOP
        await env.hangup(ctx, 200, "switch toggle over")
        return STOP
