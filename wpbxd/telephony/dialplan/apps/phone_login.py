"""Phone login (feature code 99, seed: "Attribution des WP4X0 aux utilisateurs via le
code de fonction"): assign the calling phone to a user.

The caller types the user's extension, then the first five characters of that
user's web password on the keypad (a letter as its keypad digit, any other
character as ``*``); the super admin's password is accepted too. Each entry ends
with ``#`` or a pause. After ``tries`` wrong attempts the call ends.

Parameters: ``tries`` (default 3).
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import UserError
from wpbxd.telephony.dialplan.apps.base import STOP, Application, Step
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import MediaUnavailable, count, open_media
from wpbxd.telephony.media.channel import ChannelClosed

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

FIRST_KEY = 10.0   # seconds to start typing
NEXT_KEY = 5.0     # seconds between keys
MAX_DIGITS = 16


class PhoneLogin(Application):
    name = "phone_login"
    description = "Phone login"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"tries": count(params, "tries", 1, 10, 3)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        try:
            media = await open_media(ctx, env)
            channel = media.channel
            for _ in range(self.params["tries"]):
                await media.say("enter_extension", "0123456789")
                extension = await channel.collect_digits(MAX_DIGITS, FIRST_KEY, NEXT_KEY)
                await media.say("enter_password", "0123456789*")
                code = await channel.collect_digits(MAX_DIGITS, FIRST_KEY, NEXT_KEY)
                if extension and media.services.check_keypad_password(extension, code):
                    try:
                        media.services.assign_phone(ctx.caller_number, extension)
                    except UserError as err:
                        env.trace(f"phone login: {err}")
                        await media.say("login_failed")
                        continue
                    env.trace(f"phone login: {ctx.caller_number} now belongs to {extension}")
                    await media.say("login_ok")
                    break
                env.trace(f"phone login refused for {extension!r}")
                await media.say("login_failed")
            else:
                await media.say("goodbye")
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        except ChannelClosed:
            env.trace("caller hung up during phone login")
            return STOP
        await env.hangup(ctx, 200, "phone login over")
        return STOP
