"""Echo test ("Test d'écho", feature code 76): answer, say what this is, then send the
caller's own voice back until they hang up (or ``seconds`` pass).

Parameters: ``seconds`` — how long the echo lasts (optional, default until the
caller hangs up); ``prompt`` — say the echo-test prompt first (default on).
"""

from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan.apps.base import STOP, Application, Step, seconds
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import MediaUnavailable, flag, open_media
from wpbxd.telephony.media.channel import ChannelClosed

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_ECHO = 3600  # seconds


class Echo(Application):
    name = "echo"
    description = "Echo test"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"seconds": seconds(params, "seconds", 1, MAX_ECHO, None), "prompt": flag(params, "prompt", True)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        try:
            media = await open_media(ctx, env)
            env.trace("echo test")
            if self.params["prompt"]:
                await media.say("echo_test")
                await media.beep()
            await media.channel.echo(self.params["seconds"])
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        except ChannelClosed:
            env.trace("caller hung up during the echo test")
            return STOP
        await env.hangup(ctx, 200, "echo test over")
        return STOP
