"""Fax detection ("Détection de fax"): answer and listen for a fax's calling tone (CNG,
1100 Hz) for ``seconds``; when one is heard, continue in ``procedure`` with
``number`` as the called number (seed: the "fax" number of procedure main).

With ``continue`` on, the dialplan goes on at once (the caller hears the next
applications, e.g. a call group ringing) while the PBX listens; a fax heard
within the delay stops the running application and jumps. With it off, the
dialplan waits the whole delay (silence) first.

Parameters: ``seconds`` (default 3), ``continue`` (default off), ``procedure``,
``number`` (optional; ``${called}`` allowed).
"""

import asyncio
from typing import TYPE_CHECKING, Any

from wpbxd.telephony.dialplan.apps.base import (
    CONTINUE,
    STOP,
    Application,
    Jump,
    Step,
    check_number_template,
    expand,
    name_param,
    seconds,
)
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import MediaUnavailable, flag, open_media
from wpbxd.telephony.media.channel import ChannelClosed
from wpbxd.telephony.media.negotiation import FAX_CODECS

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

DEFAULT_DELAY = 3.0
MAX_DELAY = 60


class FaxDetect(Application):
    name = "fax_detect"
    description = "Fax detection"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        number = str(params.get("number") or "").strip()
        if number:
            check_number_template(number, "number")
        return {"seconds": seconds(params, "seconds", 1, MAX_DELAY, DEFAULT_DELAY),
                "continue": flag(params, "continue", False),
                "procedure": name_param(params, "procedure", "procedure"), "number": number}

    def references(self) -> list[tuple[str, str]]:
        return [("procedure", self.params["procedure"])]

    def jumps(self) -> list[tuple[str, bool]]:
        return [(self.params["procedure"], False)]

    def _jump(self, ctx: CallContext) -> Jump:
        number = expand(self.params["number"], ctx) if self.params["number"] else None
        return Jump(self.params["procedure"], number)

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        try:
            media = await open_media(ctx, env, first=FAX_CODECS)   # a fax must be received in G.711
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        channel = media.channel
        delay = self.params["seconds"]
        divert = getattr(env, "divert", None)
        if self.params["continue"] and divert is not None:
            channel.listen_fax()
            env.trace(f"fax detection for {delay:g} s while the dialplan goes on")

            async def watch() -> None:
                try:
                    await asyncio.wait_for(asyncio.shield(channel.fax_future()), delay)
                except TimeoutError:
                    return
                env.trace("fax detected")
                divert(self._jump(ctx))

            env.background(watch())
            return CONTINUE
        env.trace(f"fax detection for {delay:g} s")
        try:
            detected = await channel.detect_fax(delay)
        except ChannelClosed:
            return STOP
        if channel.closed:
            return STOP
        if detected:
            env.trace("fax detected")
            return self._jump(ctx)
        return CONTINUE
