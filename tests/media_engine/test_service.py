"""The media service in a real wpbxd: feature codes seeded into pbxinternal at first start,
sounds uploaded/refused/deleted through ``wpbxctl``, settings validated."""

import io
import wave

from tests.media_engine.conftest import need_tools
from wpbxd.telephony.media.dtmf import tone_pcm


def test_feature_codes_are_in_pbxinternal_after_the_first_start(wpbxd):
    entries = {e["pattern"]: e["apps"][0]["app"] for e in wpbxd.call("dialplan.show", {"name": "pbxinternal"})["entries"]}
    assert {k: entries[k] for k in ("76", "99", "93", "97")} == {
        "76": "echo", "99": "phone_login", "93": "switch_toggle", "97": "voicemail_access"}
    wpbxd.call("dialplan.entry.del", {"procedure": "pbxinternal", "pattern": "76"})
    wpbxd.stop()
    wpbxd.start()                                   # not put back on a restart
    entries = {e["pattern"] for e in wpbxd.call("dialplan.show", {"name": "pbxinternal"})["entries"]}
    assert "76" not in entries and "99" in entries


def test_wpbxctl_sounds_upload_list_refuse_delete(wpbxd, tmp_path):
    need_tools("sox")
    good = tmp_path / "Closed.wav"
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(tone_pcm((440.0,), 8000, 5000))
    good.write_bytes(buf.getvalue())
    out = wpbxd.ctl("sounds", "upload", "closed", str(good))
    assert "sound closed: 0.5 s" in out.stdout
    bad = tmp_path / "notes.mp3"
    bad.write_bytes(b"this is not audio at all")
    refused = wpbxd.ctl("sounds", "upload", "broken", str(bad), check=False)
    assert refused.returncode != 0 and "notes.mp3" in refused.stderr
    listed = wpbxd.ctl("sounds", "list", "--json").stdout
    assert '"closed"' in listed and "broken" not in listed
    wpbxd.ctl("sounds", "delete", "closed")
    assert "closed" not in wpbxd.ctl("sounds", "list", "--json").stdout


def test_media_settings_are_validated(wpbxd):
    wpbxd.call("settings.set", {"key": "media.wideband_networks", "value": "10.8.0.0/16"})
    for key, value in (("media.lan_networks", "10.0.0.0/8,nonsense"), ("pbx.sound_packages", "en,fr,de,it"),
                       ("pbx.tone_zone", "atlantis")):
        result = wpbxd.ctl("settings", "set", key, value, check=False)
        assert result.returncode != 0, (key, result.stdout)
