"""Sounds: espeak-ng prompts at 8 kHz, the language fallback of the seed ("Langue &
région"), uploads in mp3/wav/alaw converted with sox ("Enregistrement et lecture
des messages audios"), and bad files refused with nothing left behind."""

import subprocess
import wave

import pytest

from tests.media_engine.conftest import need_tools, sox_has_mp3
from wpbxd.errors import NotFound, ValidationError
from wpbxd.sounds.library import SoundError, SoundLibrary, check_packages
from wpbxd.telephony.media.channel import load_pcm
from wpbxd.telephony.media.dtmf import tone_pcm


def wav_params(path):
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()


def test_prompts_are_generated_in_english_and_french_at_8khz(tmp_path):
    need_tools("espeak-ng", "sox")
    library = SoundLibrary(tmp_path, packages=("en", "fr"))
    assert library.build(names=("goodbye", "echo_test")) == 4
    en, fr = library.prompt("goodbye", "en"), library.prompt("goodbye", "fr")
    assert en != fr and en.parent.name == "en" and fr.parent.name == "fr"
    for path in (en, fr):
        rate, channels, width, frames = wav_params(path)
        assert (rate, channels, width) == (8000, 1, 2) and frames > 2000
    assert en.read_bytes() != fr.read_bytes()
    assert library.build(names=("goodbye",)) == 0          # already there


def test_a_prompt_whose_text_changed_is_made_again(tmp_path, monkeypatch):
    """A new firmware may change a prompt's words; the box's copy must follow."""
    need_tools("espeak-ng", "sox")
    from wpbxd.sounds import library as sound_library

    library = SoundLibrary(tmp_path, packages=("en",))
    assert library.build(languages=("en",), names=("goodbye",)) == 1
    before = library.prompt("goodbye", "en").read_bytes()
    changed = dict(sound_library.PROMPTS, goodbye={"en": "Thank you for calling. Goodbye."})
    monkeypatch.setattr(sound_library, "PROMPTS", changed)
    assert library.build(languages=("en",), names=("goodbye",)) == 1
    after = library.prompt("goodbye", "en").read_bytes()
    assert after != before and len(after) > len(before)
    assert library.build(languages=("en",), names=("goodbye",)) == 0


def test_language_without_a_package_falls_back_to_the_pbx_default(tmp_path):
    """Seed: PBX default Italian, user Dutch without the Dutch package: Italian is heard."""
    library = SoundLibrary(tmp_path, default_language="fr", packages=("fr", "en"))
    assert library.language_chain("nl") == ["fr", "en"]
    assert library.language_chain("en") == ["en", "fr"]
    assert library.language_chain(None) == ["fr", "en"]
    need_tools("espeak-ng", "sox")
    assert library.prompt("goodbye", "nl").parent.name == "fr"
    with pytest.raises(NotFound):
        library.prompt("no_such_prompt", "en")


def test_at_most_three_sound_packages():
    assert check_packages("fr, en") == "fr,en"
    with pytest.raises(ValidationError, match="at most 3"):
        check_packages("en,fr,de,it")
    with pytest.raises(ValidationError, match="klingon"):
        check_packages("en,klingon")


def make_wav(path, rate=44100, channels=2, seconds=0.5):
    pcm = tone_pcm((440.0,), int(rate * seconds), 8000)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    if channels == 2:
        subprocess.run(["sox", str(path), "-c", "2", str(path) + ".st.wav"], check=True)
        return (str(path) + ".st.wav")
    return str(path)


def test_uploaded_wav_is_converted_to_8khz_mono(tmp_path):
    need_tools("sox")
    src = make_wav(tmp_path / "in.wav")
    library = SoundLibrary(tmp_path / "sounds")
    info = library.import_upload("closed", "Closed Message.WAV", open(src, "rb").read())
    assert wav_params(info.path)[:3] == (8000, 1, 2)
    assert 0.45 < info.seconds < 0.55
    assert len(load_pcm(info.path)) == int(info.seconds * 8000) * 2
    assert library.find("closed") == info.path
    assert [s.name for s in library.list()] == ["closed"]
    library.delete("closed")
    assert library.list() == []


def test_uploaded_alaw_and_mp3_are_converted(tmp_path):
    need_tools("sox")
    library = SoundLibrary(tmp_path / "sounds")
    alaw = tmp_path / "x.alaw"
    subprocess.run(["sox", make_wav(tmp_path / "a.wav", 8000, 1), "-t", "al", str(alaw)], check=True)
    assert 0.45 < library.import_upload("a", "x.alaw", alaw.read_bytes()).seconds < 0.55
    if not sox_has_mp3():
        pytest.skip("sox has no mp3 support (Debian libsox-fmt-mp3)")
    mp3 = tmp_path / "x.mp3"
    subprocess.run(["sox", make_wav(tmp_path / "m.wav"), str(mp3)], check=True)
    info = library.import_upload("m", "x.mp3", mp3.read_bytes())
    assert wav_params(info.path)[:3] == (8000, 1, 2) and info.seconds > 0.4


@pytest.mark.parametrize("filename,data,message", [
    ("notes.txt", b"hello", "accepted formats"),
    ("broken.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunk", "broken.wav"),
    ("broken.mp3", b"\x00" * 10, "broken.mp3"),
    ("empty.wav", b"", "empty"),
])
def test_bad_upload_is_refused_and_leaves_nothing(tmp_path, filename, data, message):
    need_tools("sox")
    library = SoundLibrary(tmp_path / "sounds")
    good = library.import_upload("keep", "k.wav", open(make_wav(tmp_path / "k.wav"), "rb").read())
    before = good.path.read_bytes()
    with pytest.raises(SoundError, match=message):
        library.import_upload("keep", filename, data)
    assert good.path.read_bytes() == before                     # the old sound is intact
    assert sorted(p.name for p in library.custom_dir.iterdir()) == ["keep.wav"]


def test_bad_sound_names_are_refused(tmp_path):
    library = SoundLibrary(tmp_path)
    for name in ("", "../etc/passwd", "a/b", ".hidden", "x" * 65):
        with pytest.raises(ValidationError):
            library.import_upload(name, "a.wav", b"RIFF")


def test_music_on_hold_is_the_moh_upload_else_a_generated_loop(tmp_path):
    library = SoundLibrary(tmp_path / "sounds")
    default = library.music()
    rate, channels, width, frames = wav_params(default)
    assert (rate, channels, width) == (8000, 1, 2) and frames > 8000
    assert library.music() == default                        # written once
    need_tools("sox")
    custom = library.import_upload("moh", "m.wav", open(make_wav(tmp_path / "m.wav"), "rb").read())
    assert library.music() == custom.path
