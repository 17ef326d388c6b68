"""Voicemail ("Messagerie vocale"): the caller hears the mailbox's greeting, a beep, and
leaves a message, stored in the user's mailbox and mailed (audio attached) to the
user and to the users subscribed to the box (seed: "Boîte vocale partagée").

Parameters: ``box`` — the mailbox (an extension; ``${called}`` by default);
``greeting`` — a sound to play instead of the system greeting when the user has
not recorded one; ``max_seconds`` — longest message (default 180);
``silence`` — seconds of silence that end the message (default 10; 0 = never);
``email`` — mail the message (default on). The caller ends with ``#`` or by
hanging up (the message is kept either way).
"""

import asyncio
from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan.apps.base import (
    STOP,
    Application,
    Step,
    check_number_template,
    expand,
    seconds,
)
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import MediaUnavailable, flag, open_media
from wpbxd.telephony.media.channel import ChannelClosed
from wpbxd.telephony.media.voicemail import MailboxError

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_MESSAGE = 3600        # seconds
DEFAULT_MESSAGE = 180
DEFAULT_SILENCE = 10
MIN_MESSAGE = 0.5         # seconds: shorter recordings are dropped (a caller who hung up at the beep)


class Voicemail(Application):
    name = "voicemail"
    description = "Voicemail"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        box = str(params.get("box") or "${called}").strip()
        check_number_template(box, "box")
        greeting = str(params.get("greeting") or "").strip()
        if greeting:
            from wpbxd.sounds.library import check_name
            check_name(greeting)
        return {"box": box, "greeting": greeting,
                "max_seconds": seconds(params, "max_seconds", 1, MAX_MESSAGE, DEFAULT_MESSAGE),
                "silence": seconds(params, "silence", 0, MAX_MESSAGE, DEFAULT_SILENCE),
                "email": flag(params, "email", True)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        extension = expand(self.params["box"], ctx)
        if extension not in env.plan.users:
            env.trace(f"voicemail: no user {extension!r} has a mailbox")
            await env.hangup(ctx, 404, "Not Found")
            return STOP
        try:
            media = await open_media(ctx, env, language_of=extension)
            mailbox = media.services.mailbox(extension)
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        except MailboxError as err:
            env.trace(f"voicemail: {err}")
            await env.hangup(ctx, 404, "Not Found")
            return STOP
        channel = media.channel
        env.trace(f"voicemail of {extension}")
        try:
            if mailbox.greeting.exists():
                await channel.play(mailbox.greeting, "#")
            else:
                await media.say(self.params["greeting"] or "vm_unavailable", "#")
            channel.flush_digits()
            await media.beep()
        except ChannelClosed:
            env.trace("caller hung up before the beep")
            return STOP
        except ValueError as err:
            env.trace(f"voicemail greeting unusable: {err}")
        silence = self.params["silence"] or None
        result = await channel.record(mailbox.new_recording_path(), self.params["max_seconds"], "#", silence)
        if result.seconds < MIN_MESSAGE:
            result.path.unlink(missing_ok=True)
            env.trace("voicemail: no message left")
            if not channel.closed:
                await env.hangup(ctx, 200, "voicemail over")
            return STOP
        message = mailbox.save(result.path, ctx.caller_number, ctx.caller_name, result.seconds)
        env.trace(f"voicemail: {result.seconds:.1f} s message {message.id} ({result.reason})")
        mail = asyncio.ensure_future(media.services.mail_voicemail(message)) if self.params["email"] else None
        if not channel.closed:
            try:
                await media.say("vm_saved")
            except ChannelClosed:
                pass
            await env.hangup(ctx, 200, "voicemail over")
        if mail is not None:
            sent = await mail
            env.trace(f"voicemail mailed to {', '.join(sent)}" if sent else "voicemail: nobody to mail")
        return STOP
