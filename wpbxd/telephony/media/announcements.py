"""What the media applications share: getting the call's channel, saying prompts and numbers.

Responsible for: ``open_media`` (answer the call through ``CallContext.media()``
and fetch ``CallContext.services``, or say why the call cannot have media),
``say`` (a system prompt or admin sound in the listener's language, through the
language rule of ``SoundLibrary``), ``say_number`` (digit by digit), ``beep``.

Rule: no dialplan decisions here; applications decide what to say and when.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.telephony.media.channel import MediaChannel
from wpbxd.telephony.media.dtmf import tone_pcm
from wpbxd.telephony.media.services import MediaServices

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

BEEP_HZ = 1000.0          # the "speak after the tone" beep
BEEP_SAMPLES = 2400       # 300 ms at 8 kHz
BEEP_AMPLITUDE = 6000
ALL_KEYS = "0123456789*#"


class MediaUnavailable(UserError):
    """The call engine cannot give this call a media channel (the message says why)."""


@dataclass
class Media:
    channel: MediaChannel
    services: MediaServices
    language: str | None
    trace: Callable[[str], None]

    async def say(self, name: str, interrupt: str = "") -> str | None:
        """Play sound ``name`` (admin sound or system prompt); a missing or unreadable
        one is skipped with a trace line (the call goes on)."""
        try:
            path: Path = self.services.sounds.find(name, self.language)
            return await self.channel.play(path, interrupt)
        except (NotFound, UserError, ValueError) as err:
            self.trace(f"sound {name!r} skipped: {err}")
            return None

    async def say_number(self, number: int, interrupt: str = "") -> str | None:
        for digit in str(number):
            key = await self.say(f"digit_{digit}", interrupt)
            if key is not None:
                return key
        return None

    async def beep(self) -> None:
        await self.channel.play(tone_pcm((BEEP_HZ,), BEEP_SAMPLES, BEEP_AMPLITUDE))


async def open_media(ctx: Any, env: "RunEnv", language_of: str | None = None,
                     codecs: tuple[str, ...] | None = None, first: tuple[str, ...] | None = None) -> Media:
    """Answer ``ctx`` with the PBX's own media; ``language_of`` names the extension whose
    language prompts use (default: the caller's). Raises ``MediaUnavailable``."""
    opener = getattr(ctx, "media", None)
    services = getattr(ctx, "services", None)
    if opener is None or services is None:
        raise MediaUnavailable("the call engine gives this call no media channel")
    channel = await opener(codecs, first) if codecs is not None or first is not None else await opener()
    extension = language_of or ctx.caller_number
    language = services.language_of(extension) if extension else None
    return Media(channel, services, language, env.trace)


def flag(params: dict[str, Any], key: str, default: bool) -> bool:
    """An on/off parameter (true/false, 1/0, on/off, yes/no)."""
    value = params.get(key, default)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "on", "yes", "true"):
            return True
        if text in ("0", "off", "no", "false", ""):
            return False
        raise ValidationError(f"must be on or off, not {value!r}", key)
    return bool(value)


def count(params: dict[str, Any], key: str, lo: int, hi: int, default: int) -> int:
    """A whole-number parameter within ``lo``..``hi``."""
    value = params.get(key)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        raise ValidationError(f"must be a whole number, not {value!r}", key)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"must be a whole number, not {value!r}", key) from None
    if not lo <= number <= hi:
        raise ValidationError(f"must be between {lo} and {hi}", key)
    return number
