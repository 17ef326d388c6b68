"""Voicemail access (feature code, 97 by default): listen to and delete one's messages.

The caller types the mailbox (asked only when the call does not come from a
user, or when ``box`` says which) and the PIN: the first five characters of the
box owner's web password typed on the keypad, as for feature code 99 (letters
as their digit, other characters as ``*``). Then each message plays, oldest
first; after it: 1 plays it again, 7 deletes it, 9 goes to the next one.

Parameters: ``box`` — the mailbox (optional: the caller's own).
"""

from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan.apps.base import (
    STOP,
    Application,
    Step,
    check_number_template,
    expand,
)
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import Media, MediaUnavailable, open_media
from wpbxd.telephony.media.channel import ChannelClosed
from wpbxd.telephony.media.voicemail import MailboxError

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

PIN_TRIES = 3
MENU_ROUNDS = 2            # menu plays without a key before the next message
FIRST_KEY = 10.0           # seconds to start typing
NEXT_KEY = 5.0             # seconds between keys
MAX_DIGITS = 16


class VoicemailAccess(Application):
    name = "voicemail_access"
    description = "Voicemail access"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        box = str(params.get("box") or "").strip()
        if box:
            check_number_template(box, "box")
        return {"box": box}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        try:
            media = await open_media(ctx, env)
            await self._session(ctx, env, media)
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        except ChannelClosed:
            env.trace("caller hung up in voicemail access")
            return STOP
        await env.hangup(ctx, 200, "voicemail access over")
        return STOP

    async def _session(self, ctx: CallContext, env: "RunEnv", media: Media) -> None:
        channel = media.channel
        if self.params["box"]:
            extension = expand(self.params["box"], ctx)
        elif ctx.caller_number in env.plan.users:
            extension = ctx.caller_number
        else:
            await media.say("vm_enter_mailbox", "0123456789")
            extension = await channel.collect_digits(MAX_DIGITS, FIRST_KEY, NEXT_KEY)
        for _ in range(PIN_TRIES):
            await media.say("vm_enter_pin", "0123456789*")
            pin = await channel.collect_digits(MAX_DIGITS, FIRST_KEY, NEXT_KEY)
            if extension in env.plan.users and media.services.check_keypad_password(extension, pin):
                break
            env.trace(f"voicemail access: wrong PIN for {extension!r}")
            await media.say("login_failed")
        else:
            await media.say("goodbye")
            return
        try:
            mailbox = media.services.mailbox(extension)
        except MailboxError as err:
            env.trace(f"voicemail access: {err}")
            return
        messages = mailbox.messages()
        env.trace(f"voicemail access to {extension}: {len(messages)} message(s)")
        if not messages:
            await media.say("vm_no_messages")
            await media.say("goodbye")
            return
        await media.say("vm_you_have")
        await media.say_number(len(messages))
        await media.say("vm_messages")
        for message in messages:
            await self._message(env, media, mailbox, message)
        await media.say("vm_end")

    @staticmethod
    async def _message(env: "RunEnv", media: Media, mailbox, message) -> None:
        channel = media.channel
        channel.flush_digits()
        await channel.play(mailbox.audio(message.id), "179")
        mailbox.mark_heard(message.id)
        rounds = 0
        while rounds < MENU_ROUNDS:
            if not channel.pending_digits():
                await media.say("vm_menu", "179")
            key = await channel.collect_digits(1, NEXT_KEY, NEXT_KEY, terminators="")
            if key == "1":
                channel.flush_digits()
                await channel.play(mailbox.audio(message.id), "179")
                rounds = 0
            elif key == "7":
                mailbox.delete(message.id)
                env.trace(f"voicemail access: message {message.id} deleted")
                await media.say("vm_deleted")
                return
            elif key == "9":
                return
            else:
                rounds += 1
