"""Play sound ("Lire un son"): answer and play an admin sound or a system prompt, then
go on with the next application (seed: "Enregistrement et lecture des messages audios").

Parameters: ``sound`` — the sound's name (uploaded in Sounds, or a system prompt);
``repeat`` — how many times (default 1); ``interruptible`` — a key stops it
(the key is kept for a following IVR or digit collection; default off).
"""

from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan.apps.base import CONTINUE, STOP, Application, Step, name_param
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import ALL_KEYS, MediaUnavailable, count, flag, open_media
from wpbxd.telephony.media.channel import ChannelClosed

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_REPEAT = 20


class PlaySound(Application):
    name = "play_sound"
    description = "Play sound"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        from wpbxd.sounds.library import check_name
        sound = check_name(name_param(params, "sound", "sound"))
        return {"sound": sound, "repeat": count(params, "repeat", 1, MAX_REPEAT, 1),
                "interruptible": flag(params, "interruptible", False)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        interrupt = ALL_KEYS if self.params["interruptible"] else ""
        try:
            media = await open_media(ctx, env)
            env.trace(f"play sound {self.params['sound']!r}")
            for _ in range(self.params["repeat"]):
                if await media.say(self.params["sound"], interrupt) is not None:
                    env.trace("a key stopped the sound")
                    break
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        except ChannelClosed:
            env.trace("caller hung up during the sound")
            return STOP
        return CONTINUE
