"""Sounds page: admin uploads converted by the sound library with sox (seed: "Sons")."""

import io
import math
import struct
import wave

import pytest

from tests.conftest import need_tool
from wpbxd.web import sound_pages


def _wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                               for i in range(int(seconds * rate))))
    return out.getvalue()


def test_upload_listen_and_delete_a_sound_bad_files_refused(web):
    need_tool("sox")
    if not sound_pages.available():
        pytest.skip("the sound library is not in this build")
    s = web.admin()
    token = web.csrf(s, "/sounds")
    r = s.post(web.base + "/sounds", data={"csrf": token, "name": "welcome"},
               files={"file": ("welcome.mp3", b"this is not audio", "audio/mpeg")}, allow_redirects=False)
    assert r.status_code == 400 and 'id="f-file-err"' in r.text and 'value="welcome"' in r.text
    assert "<td>welcome</td>" not in web.get(s, "/sounds").text
    r = s.post(web.base + "/sounds", data={"csrf": token, "name": "bad name!"},
               files={"file": ("x.wav", _wav(), "audio/wav")}, allow_redirects=False)
    assert r.status_code == 400 and 'id="f-name-err"' in r.text
    r = s.post(web.base + "/sounds", data={"csrf": token, "name": "welcome"},
               files={"file": ("welcome.wav", _wav(), "audio/wav")}, allow_redirects=False)
    assert r.status_code == 303, r.text[-1500:]
    page = web.get(s, "/sounds").text
    assert "<td>welcome</td>" in page and 'src="/sounds/welcome.wav"' in page
    audio = web.get(s, "/sounds/welcome.wav")
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    with wave.open(io.BytesIO(audio.content)) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1  # converted for the phones
    # where the calls play it from: the media service lists it too
    assert "welcome" in [row["name"] for row in web.daemon.call("sounds.list")]
    r = web.post(s, "/sounds", {"delete": "welcome"})
    assert r.status_code == 303 and "<td>welcome</td>" not in web.get(s, "/sounds").text
