"""Sound files: system prompts per language, admin uploads, and which file a call hears.

Responsible for:
  - generating the system prompts (``prompts.PROMPTS``) with ``espeak-ng`` and
    converting them with ``sox`` to 8 kHz 16-bit mono WAV, once: generated files
    are kept in a cache keyed by a hash of voice and text
    (``$WPBX_SOUNDS_CACHE``, else ``$XDG_CACHE_HOME/wpbx/sounds``) and copied
    into ``<sounds>/system/<lang>/`` with that key beside them (``.<name>.key``),
    so a prompt whose text changed (a new firmware) is copied again;
  - the language rule of the seed ("Langue & région"): a prompt is played in the
    user's language when that sound package is enabled, else in the PBX default
    language, else English; at most three packages are enabled;
  - admin uploads (seed "Enregistrement et lecture des messages audios": mp3, wav,
    alaw) converted with sox to the same format on upload. A file sox cannot read
    is refused with a clear message, and nothing half-written stays: conversion
    goes to a temporary name renamed only once the result has been read back.

Rule: blocking (subprocesses, file writes): the daemon calls it from an executor.
It never decides *when* a prompt plays; applications do.
"""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wpbxd.errors import NotFound, ValidationError
from wpbxd.sounds.prompts import DEFAULT_LANGUAGE, LANGUAGES, MAX_PACKAGES, PROMPTS

SAMPLE_RATE = 8000                     # Hz, what every channel plays
SOX_TIMEOUT = 120.0                    # seconds for one conversion
ESPEAK_TIMEOUT = 30.0
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_SOUND_SECONDS = 30 * 60
NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
# upload extension -> sox input options (raw A-law has no header: say what it is)
UPLOAD_FORMATS: dict[str, list[str]] = {
    "mp3": ["-t", "mp3"],
    "wav": ["-t", "wav"],
    "alaw": ["-t", "al", "-r", "8000", "-c", "1"],
    "al": ["-t", "al", "-r", "8000", "-c", "1"],
}
MOH_NAME = "moh"                       # an uploaded sound of this name is the music on hold
MOH_NOTES = (523.25, 659.25, 783.99, 659.25)   # Hz: C5 E5 G5 E5, the default music's loop
MOH_NOTE_SECONDS = 0.4
MOH_AMPLITUDE = 3000
SOX_OUTPUT = ["-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "wav"]


class SoundError(ValidationError):
    """A sound that cannot be made or used; the message says why."""


@dataclass(frozen=True)
class SoundInfo:
    name: str
    path: Path
    seconds: float


def check_packages(value: Any) -> str:
    """Validator of ``pbx.sound_packages``: known languages, at most three."""
    codes = [c.strip().lower() for c in str(value or "").replace(" ", ",").split(",") if c.strip()]
    unknown = [c for c in codes if c not in LANGUAGES]
    if unknown:
        raise ValidationError(f"no sound package for {unknown[0]!r} (available: {', '.join(LANGUAGES)})")
    if len(set(codes)) > MAX_PACKAGES:
        raise ValidationError(f"at most {MAX_PACKAGES} sound packages can be enabled at once")
    if not codes:
        raise ValidationError("enable at least one sound package")
    return ",".join(dict.fromkeys(codes))


def cache_dir() -> Path:
    env = os.environ.get("WPBX_SOUNDS_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wpbx" / "sounds"


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise SoundError(f"{path.name} is not 8 kHz 16-bit mono")
        return wav.getnframes() / SAMPLE_RATE


def _run(argv: list[str], timeout: float, what: str) -> None:
    if shutil.which(argv[0]) is None:
        raise SoundError(f"{argv[0]} is not installed; it is needed to {what}")
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SoundError(f"{argv[0]} took more than {timeout:g} s to {what}") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()]
        detail = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        detail = re.sub(r"^sox (FAIL|WARN) \w+: ", "", detail)
        raise SoundError(f"cannot {what}: {detail}")


def synthesize(text: str, language: str, dest: Path) -> Path:
    """Speak ``text`` in ``language`` into ``dest`` (8 kHz WAV), through the cache."""
    voice = LANGUAGES.get(language)
    if voice is None:
        raise SoundError(f"no voice for language {language!r}")
    key = prompt_key(text, language)
    cache = cache_dir()
    cached = cache / f"{key}.wav"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            raw = Path(tmp) / "speech.wav"
            out = Path(tmp) / "out.wav"
            _run(["espeak-ng", "-v", voice, "-w", str(raw), text], ESPEAK_TIMEOUT, "speak a prompt")
            _run(["sox", str(raw), *SOX_OUTPUT, str(out)], SOX_TIMEOUT, "convert a prompt")
            os.replace(out, cached)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dest = dest.with_name(f".{dest.name}.part")
    shutil.copyfile(cached, tmp_dest)
    os.replace(tmp_dest, dest)
    _key_file(dest).write_text(key)
    return dest


def prompt_key(text: str, language: str) -> str:
    """What a prompt file was made from (voice and text): its cache name."""
    return hashlib.sha256(f"espeak-ng|{LANGUAGES.get(language)}|{text}".encode()).hexdigest()[:24]


def _key_file(dest: Path) -> Path:
    return dest.with_name(f".{dest.stem}.key")


def _current(dest: Path, key: str) -> bool:
    """``dest`` exists and was made from ``key`` (a firmware that changed a prompt's
    text makes the box's copy stale: it is made again)."""
    try:
        return dest.exists() and _key_file(dest).read_text() == key
    except OSError:
        return False


class SoundLibrary:
    """The sounds of one PBX under ``root`` (``<data>/sounds``): ``system/<lang>/`` and ``custom/``."""

    def __init__(self, root: Path, default_language: str = DEFAULT_LANGUAGE,
                 packages: tuple[str, ...] = ("en", "fr")) -> None:
        self.root = Path(root)
        self.default_language = default_language
        self.packages = packages

    @property
    def custom_dir(self) -> Path:
        return self.root / "custom"

    def system_dir(self, language: str) -> Path:
        return self.root / "system" / language

    # -- system prompts -------------------------------------------------------------
    def build(self, languages: tuple[str, ...] | None = None, names: tuple[str, ...] | None = None) -> int:
        """Generate missing prompts for ``languages`` (default: the enabled packages);
        returns how many files were written. Prompts without a text in a language
        are skipped (the English one stands in through ``language_chain``)."""
        written = 0
        for language in languages or self.packages:
            for name in names or tuple(PROMPTS):
                text = PROMPTS.get(name, {}).get(language)
                if text is None:
                    continue
                dest = self.system_dir(language) / f"{name}.wav"
                if not _current(dest, prompt_key(text, language)):
                    synthesize(text, language, dest)
                    written += 1
        return written

    def language_chain(self, language: str | None) -> list[str]:
        """Languages to try for a user: theirs if its package is enabled, then the PBX
        default (seed: *Langue & région*), then English."""
        chain = []
        if language and language in self.packages:
            chain.append(language)
        chain.append(self.default_language)
        chain.append(DEFAULT_LANGUAGE)
        return list(dict.fromkeys(chain))

    def prompt(self, name: str, language: str | None = None) -> Path:
        """The file of system prompt ``name`` for a user speaking ``language``,
        generated now if it is missing. Raises ``NotFound`` for an unknown prompt."""
        if name not in PROMPTS:
            raise NotFound(f"no system prompt {name!r}")
        for lang in self.language_chain(language):
            path = self.system_dir(lang) / f"{name}.wav"
            if path.exists():
                return path
            if lang in PROMPTS[name]:
                return synthesize(PROMPTS[name][lang], lang, path)
        raise NotFound(f"no system prompt {name!r} in {', '.join(self.language_chain(language))}")

    def find(self, name: str, language: str | None = None) -> Path:
        """An admin sound by name (``custom/``), else a system prompt."""
        if NAME_RE.match(name or ""):
            path = self.custom_dir / f"{name}.wav"
            if path.exists():
                return path
        if name in PROMPTS:
            return self.prompt(name, language)
        raise NotFound(f"no sound {name!r}")

    def music(self) -> Path:
        """Music on hold: the admin's sound named ``moh`` when there is one, else a
        short generated melody (soft sine notes), written once."""
        custom = self.custom_dir / f"{MOH_NAME}.wav"
        if custom.exists():
            return custom
        path = self.root / "system" / "music.wav"
        if not path.exists():
            from wpbxd.telephony.media.dtmf import tone_pcm
            pcm = b"".join(tone_pcm((freq,), int(SAMPLE_RATE * MOH_NOTE_SECONDS), MOH_AMPLITUDE)
                           for freq in MOH_NOTES)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.part")
            with wave.open(str(tmp), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(SAMPLE_RATE)
                wav.writeframes(pcm)
            os.replace(tmp, path)
        return path

    # -- admin sounds ---------------------------------------------------------------
    def list(self) -> list[SoundInfo]:
        out = []
        if self.custom_dir.is_dir():
            for path in sorted(self.custom_dir.glob("*.wav")):
                if path.name.startswith("."):
                    continue
                try:
                    out.append(SoundInfo(path.stem, path, _seconds(path)))
                except (SoundError, wave.Error, EOFError):
                    continue
        return out

    def delete(self, name: str) -> None:
        path = self.custom_dir / f"{check_name(name)}.wav"
        if not path.exists():
            raise NotFound(f"no sound {name!r}")
        path.unlink()

    def import_upload(self, name: str, filename: str, data: bytes) -> SoundInfo:
        """Convert an uploaded mp3/wav/alaw file to the PBX format and store it as ``name``.

        Raises ``SoundError`` (a ``ValidationError``) when the type is not accepted or
        sox cannot read it; no file is left behind then, and an existing sound of
        the same name stays as it was.
        """
        name = check_name(name)
        ext = Path(filename or "").suffix.lower().lstrip(".")
        if ext not in UPLOAD_FORMATS:
            raise SoundError(f"{filename!r}: accepted formats are mp3, wav and alaw", "file")
        if not data:
            raise SoundError(f"{filename!r} is empty", "file")
        if len(data) > MAX_UPLOAD_BYTES:
            raise SoundError(f"{filename!r} is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB", "file")
        self.custom_dir.mkdir(parents=True, exist_ok=True)
        dest = self.custom_dir / f"{name}.wav"
        with tempfile.TemporaryDirectory(dir=self.custom_dir, prefix=".upload-") as tmp:
            src = Path(tmp) / f"in.{ext}"
            out = Path(tmp) / "out.wav"
            src.write_bytes(data)
            try:
                _run(["sox", *UPLOAD_FORMATS[ext], str(src), *SOX_OUTPUT, str(out)], SOX_TIMEOUT,
                     f"read {filename!r} as {ext}")
                seconds = _seconds(out)
            except (wave.Error, EOFError) as err:
                raise SoundError(f"{filename!r}: the converted file is unusable ({err})", "file") from None
            except SoundError as err:
                raise SoundError(str(err.message), "file") from None
            if seconds <= 0:
                raise SoundError(f"{filename!r} holds no audio", "file")
            if seconds > MAX_SOUND_SECONDS:
                raise SoundError(f"{filename!r} lasts more than {MAX_SOUND_SECONDS // 60} minutes", "file")
            os.replace(out, dest)
        return SoundInfo(name, dest, seconds)

    def recording_path(self, name: str) -> Path:
        """Where a recording of sound ``name`` is written while it lasts (hidden from ``list``)."""
        return self.custom_dir / f".recording-{check_name(name)}.wav"

    def keep_recording(self, name: str, path: Path) -> SoundInfo:
        """Make the finished recording ``path`` (8 kHz 16-bit WAV) the sound ``name``, in one rename."""
        name = check_name(name)
        try:
            seconds = _seconds(path)
        except (wave.Error, EOFError) as err:
            raise SoundError(f"the recording is unusable ({err})", "file") from None
        dest = self.custom_dir / f"{name}.wav"
        os.replace(path, dest)
        return SoundInfo(name, dest, seconds)


def check_name(name: str) -> str:
    name = str(name or "").strip()
    if not NAME_RE.match(name) or name.endswith(".wav"):
        raise ValidationError(f"sound name {name!r}: 1-64 letters, digits, '_', '-' or '.'", "name")
    return name
