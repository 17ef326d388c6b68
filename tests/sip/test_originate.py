"""Calls the PBX places (seed item 9, *Générer un appel*; Sounds, recording by phone).

Real softphones: baresip accounts with auto-answer, a sine as microphone and the
decoded audio recorded (see ``test_baresip``). The PBX rings the first phone; once
it answers, the number runs through the dialplan as if that phone had dialled it.
"""

import time

import pytest

from tests.conftest import need_tool
from tests.daemon_runner import wait_for
from tests.media_engine.test_e2e_sip import (
    add_users,
    baresip,
    cdr_rows,
    heard_tone,
    pcm_of,
    tone_share,
)
from tests.sip.test_baresip import Baresip, wait_registered
from wpbxd.console.client import ControlError
from wpbxd.hw import areas


def calls_of(pbx) -> list[dict]:
    return pbx.call("calls.list")


def test_generated_echo_test_rings_the_phone_and_sends_its_audio_back(wpbxd, tmp_path):
    add_users(wpbxd, [{"extension": "301"}])
    phone = baresip(tmp_path, wpbxd, "301", tone=440)
    try:
        wait_registered(wpbxd, ["301"])
        out = wpbxd.ctl("call", "301", "76")
        assert "ringing 301" in out.stdout
        phone.wait_event("CALL_ESTABLISHED")
        calls = wait_for(lambda: [c for c in calls_of(wpbxd) if c["state"] == "answered"], what="answered call")
        assert calls[0]["caller"] == "301" and calls[0]["called"] == "76"
        time.sleep(8)              # the prompt (~3 s), the beep, then several seconds of echo
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
    finally:
        phone.stop()
    assert heard_tone(phone.rec, 440.0) > 0.5, "the phone did not hear its own 440 Hz tone back"
    rows = cdr_rows(wpbxd, 1)
    assert rows[0]["caller_number"] == "301" and rows[0]["callee_number"] == "76"
    assert rows[0]["disposition"] == "ANSWERED" and rows[0]["hangup_side"] == "caller"


def test_generated_call_from_one_phone_to_another_bridges_both_ways(wpbxd, tmp_path):
    add_users(wpbxd, [{"extension": "311"}, {"extension": "312"}])
    first = baresip(tmp_path, wpbxd, "311", tone=440)
    second = baresip(tmp_path, wpbxd, "312", tone=1000)
    try:
        wait_registered(wpbxd, ["311", "312"])
        wpbxd.call("calls.originate", {"extension": "311", "number": "312"})
        first.wait_event("CALL_ESTABLISHED")
        second.wait_event("CALL_ESTABLISHED")
        call = wait_for(lambda: [c for c in calls_of(wpbxd) if c["callee"] == "312" and c["callee_call_id"]],
                        what="the bridged call")[0]
        assert call["caller"] == "311" and call["state"] == "answered"
        time.sleep(3)
        media = calls_of(wpbxd)[0]["media"][0]
        assert media["a_to_b"]["packets"] > 50 and media["b_to_a"]["packets"] > 50, media
        second.command("hangup")
        first.wait_event("CALL_CLOSED")
    finally:
        first.stop()
        second.stop()
    assert heard_tone(second.rec, 440.0) > 0.5, "the called phone did not hear the first phone"
    assert heard_tone(first.rec, 1000.0) > 0.5, "the first phone did not hear the called phone"
    rows = cdr_rows(wpbxd, 1)
    assert rows[0]["caller_number"] == "311" and rows[0]["callee_number"] == "312"
    assert rows[0]["disposition"] == "ANSWERED" and rows[0]["hangup_side"] == "callee"


def test_generated_call_that_nobody_answers_is_cancelled_and_recorded(wpbxd, tmp_path):
    add_users(wpbxd, [{"extension": "321"}])
    wpbxd.call("settings.set", {"key": "sip.ring_timeout", "value": "3"})
    need_tool("baresip")
    phone = Baresip(tmp_path / "bs321", "321", wpbxd.sip_port, answermode="manual")
    phone.connect()
    try:
        wait_registered(wpbxd, ["321"])
        wpbxd.call("calls.originate", {"extension": "321", "number": "76"})
        phone.wait_event("CALL_INCOMING")
        assert calls_of(wpbxd)[0]["state"] == "ringing"
        wait_for(lambda: not calls_of(wpbxd), timeout=30, what="the ring timeout")
        phone.wait_event("CALL_CLOSED")
    finally:
        phone.stop()
    rows = cdr_rows(wpbxd, 1)
    assert rows[0]["caller_number"] == "321" and rows[0]["disposition"] == "NO ANSWER"


@pytest.mark.parametrize(("args", "message"), [
    ({"extension": "399", "number": "76"}, "no user has extension 399"),
    ({"extension": "331", "number": "76"}, "331 has no registered phone"),
    ({"extension": "331", "number": "7a6"}, "is not a number"),
    ({"extension": "331", "number": "76", "procedure": "nowhere"}, "no procedure 'nowhere'"),
])
def test_generate_call_refuses_what_cannot_be_rung(wpbxd, args, message):
    add_users(wpbxd, [{"extension": "331"}])
    with pytest.raises(ControlError, match=message):
        wpbxd.call("calls.originate", args)
    assert calls_of(wpbxd) == []
    status = wpbxd.call("status")
    assert status["pid"]


def test_a_sound_is_recorded_by_phone(wpbxd, tmp_path):
    add_users(wpbxd, [{"extension": "341"}])
    phone = baresip(tmp_path, wpbxd, "341", tone=700)
    try:
        wait_registered(wpbxd, ["341"])
        out = wpbxd.ctl("sounds", "record", "closed_msg", "341")
        assert "calling 341" in out.stdout
        phone.wait_event("CALL_ESTABLISHED")
        time.sleep(3)                      # the beep, then about 2.5 s of the phone's 700 Hz
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
        sounds = wait_for(lambda: [s for s in wpbxd.call("sounds.list") if s["name"] == "closed_msg"],
                          what="the recorded sound")
        assert 1.5 < sounds[0]["seconds"] < 4.0, sounds
        path = areas.area_path(wpbxd.data_dir, "sounds") / "custom" / "closed_msg.wav"
        samples, rate = pcm_of(path)
        assert rate == 8000
        assert tone_share(samples[-8000:], rate, 700.0) > 0.5, "the recording is not the phone's tone"
    finally:
        phone.stop()
    assert not list(path.parent.glob(".recording-*")), "a half recording was left behind"
    with pytest.raises(ControlError, match="sound name"):
        wpbxd.call("sounds.record", {"name": "../etc", "extension": "341"})
