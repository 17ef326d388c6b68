"""Record a sound by phone (seed, "Enregistrement et lecture des messages audios": the
admin enters a name and an extension, the PBX calls that phone, the admin speaks the
announcement and hangs up, and the sound is saved under that name).

The Sounds page runs it through a call the PBX places (``B2bua.originate``); it
can also stand in a procedure (a feature code for recording announcements).
The caller hears a beep, speaks, and ends with ``#`` or by hanging up. A
recording shorter than half a second (hung up at the beep) is dropped and an
existing sound of that name stays as it was; otherwise the sound is replaced in
one rename, so a listener never hears half a file.

Parameters: ``name`` — the sound to record (letters, digits, ``_-.``);
``max_seconds`` — longest recording (default 300).
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import UserError
from wpbxd.telephony.dialplan.apps.base import STOP, Application, Step, seconds
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import MediaUnavailable, open_media
from wpbxd.telephony.media.channel import ChannelClosed

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_RECORDING = 1800      # seconds
DEFAULT_RECORDING = 300
MIN_RECORDING = 0.5       # seconds: shorter is a phone hung up at the beep


class RecordSound(Application):
    name = "record_sound"
    description = "Record a sound"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        from wpbxd.sounds.library import check_name

        return {"name": check_name(str(params.get("name") or "")),
                "max_seconds": seconds(params, "max_seconds", 1, MAX_RECORDING, DEFAULT_RECORDING)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        name = self.params["name"]
        try:
            media = await open_media(ctx, env)
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        library = media.services.sounds
        channel = media.channel
        try:
            await media.beep()
        except ChannelClosed:
            env.trace(f"record {name}: hung up before the beep")
            return STOP
        channel.flush_digits()
        env.trace(f"recording sound {name!r}")
        result = await channel.record(library.recording_path(name), self.params["max_seconds"], "#")
        if result.seconds < MIN_RECORDING:
            result.path.unlink(missing_ok=True)
            env.trace(f"record {name}: nothing recorded ({result.seconds:.1f} s)")
        else:
            try:
                info = library.keep_recording(name, result.path)
                env.trace(f"sound {info.name!r} recorded: {info.seconds:.1f} s ({result.reason})")
            except UserError as err:
                result.path.unlink(missing_ok=True)
                env.trace(f"record {name}: not saved: {err}")
        if not channel.closed:
            try:
                await media.beep()
            except ChannelClosed:
                pass
            await env.hangup(ctx, 200, "recording over")
        return STOP
