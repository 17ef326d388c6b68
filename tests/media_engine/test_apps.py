"""The media applications run by the real dialplan engine from a real store, with a real
RTP phone on loopback at the far end of the call's media channel: the seed's
three-level IVR walked with RFC 4733 digits, voicemail left and mailed to aiosmtpd
with the audio attached, voicemail access with the keypad PIN, the echo test on 76,
phone login on 99, switch toggle on 93, fax detection. (The SIP side is covered by
the B2BUA end-to-end tests.)"""

import asyncio
import email
import io
import wave
from array import array

import pytest

from tests.media_engine.callharness import MediaCall, add_user, make_store, start, template_store
from tests.media_engine.conftest import need_tools
from tests.media_engine.rtpphone import RtpPhone, until
from wpbxd.errors import ValidationError
from wpbxd.services import smtp
from wpbxd.telephony.dialplan import catalog, procedures
from wpbxd.telephony.dialplan.apps.ivr import Ivr
from wpbxd.telephony.media.dtmf import _goertzel_coefficients, _powers, tone_pcm
from wpbxd.telephony.media.features import FEATURE_CODES, install_feature_codes
from wpbxd.telephony.media.services import PbxMediaServices, subscribe_voicemail

CALL_TIMEOUT = 60  # seconds; bounds a stuck test only
PASSWORD = "Ab3$xyz9Q!"          # keypad code of its first five characters: 223*9
KEYPAD = "223*9"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return template_store(tmp_path_factory.mktemp("tpl") / "wpbx.db")


@pytest.fixture
def pbx(tmp_path, template):
    store = make_store(template, tmp_path)
    services = PbxMediaServices(store, None, tmp_path / "data")
    yield store, services
    store.close()


def write_sound(services, name, freq, seconds=0.3):
    path = services.sounds.custom_dir / f"{name}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(tone_pcm((freq,), int(8000 * seconds), 6000))


def hears(pcm: bytes, freq: float) -> bool:
    """Does ``pcm`` (last 100 ms) hold a tone at ``freq``?"""
    x = array("h")
    x.frombytes(pcm[-1600:])
    if len(x) < 800:
        return False
    total = sum(v * v for v in x) / len(x)
    if total < 1e5:
        return False
    power = _powers(x, _goertzel_coefficients((freq,), len(x)))[0]
    return power * 2 / (len(x) ** 2 * total) > 0.5


async def finish(task):
    return await asyncio.wait_for(task, CALL_TIMEOUT)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, CALL_TIMEOUT * 2))


# -- IVR -------------------------------------------------------------------------------------

SEED_TREE = {   # seed "Création d'une arborescence SVI": three levels
    "type": "menu", "sound": "ivr_language", "repeat": 2, "timeout": 2,
    "timeout_procedure": "main", "timeout_number": "200",
    "keys": {
        "1": {"type": "menu", "sound": "ivr_english", "return_code": "*", "timeout": 3,
              "keys": {"1": {"type": "action", "procedure": "users", "number": "123"},
                       "2": {"type": "action", "procedure": "users", "number": "224"}}},
        "2": {"type": "menu", "sound": "ivr_french", "return_code": "*", "timeout": 3,
              "keys": {"1": {"type": "action", "procedure": "IVR", "number": "111"},
                       "2": {"type": "action", "procedure": "IVR", "number": "222"}}},
    },
}


def seed_ivr(store, services):
    for ext in ("123", "224", "200", "301", "302", "401"):
        add_user(store, ext)
    for name, freq in (("ivr_language", 500.0), ("ivr_english", 700.0), ("ivr_french", 900.0)):
        write_sound(services, name, freq)
    procedures.add_procedure(store, None, "IVR", "IVR destinations")
    procedures.add_entry(store, None, "IVR", "111", [{"app": "dial", "params": {"target": "301&302"}}])
    procedures.add_entry(store, None, "IVR", "222", [{"app": "dial", "params": {"target": "401"}}])
    procedures.add_entry(store, None, "main", "200", [{"app": "dial", "params": {"target": "200"}}])
    procedures.add_entry(store, None, "main", "0123456789", [{"app": "ivr", "params": {"tree": SEED_TREE}}])


@pytest.mark.parametrize("keys,rung", [
    ("21", ["301", "302"]),       # French, technical support: the support group (procedure IVR, 111)
    ("22", ["401"]),              # French, sales
    ("12", ["224"]),              # English, sales: the English-speaking operator
    ("1*21", ["301", "302"]),     # English menu, back with the return code, then French support
])
def test_seed_three_level_ivr_ends_at_the_right_extension(pbx, keys, rung):
    store, services = pbx
    seed_ivr(store, services)

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="0612345678", called="0123456789", procedure="main")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await until(lambda: hears(phone.heard(), 500.0))        # the first menu plays
        for key in keys:
            await phone.send_digits(key)
        await finish(task)
        phone.close()
        return call

    call = run(scenario())
    assert call.rings == [rung]
    assert any("IVR level 2" in line for line in call.lines)


def test_ivr_without_a_key_takes_the_timeout_action(pbx):
    store, services = pbx
    seed_ivr(store, services)

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="0612345678", called="0123456789", procedure="main")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await phone.send_silence(0.2)
        await finish(task)
        phone.close()
        return call

    call = run(scenario())
    assert call.rings == [["200"]]
    assert any("timeout action" in line for line in call.lines)


def test_ivr_wrong_key_is_refused_and_the_menu_asked_again(pbx):
    store, services = pbx
    seed_ivr(store, services)

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="0612345678", called="0123456789", procedure="main")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await phone.send_digits("7")                 # not a choice on level 1
        await until(lambda: any("not a choice" in line for line in call.lines))
        await phone.send_digits("22")
        await finish(task)
        phone.close()
        return call

    assert run(scenario()).rings == [["401"]]


@pytest.mark.parametrize("tree,message", [
    ({"type": "action", "procedure": "main"}, "first node"),
    ({"type": "menu", "keys": {"12": {"type": "action", "procedure": "main"}}}, "not a key"),
    ({"type": "menu", "return_code": "*", "keys": {"*": {"type": "action", "procedure": "main"}}}, "return code"),
    ({"type": "menu", "keys": {"1": {"type": "action"}}}, "needs a procedure"),
    ({"type": "menu", "repeat": 0}, "repeat"),
    ({"type": "submenu"}, "type must be"),
])
def test_bad_ivr_trees_are_refused_with_a_reason(tree, message):
    with pytest.raises(ValidationError, match=message):
        Ivr({"tree": tree})


def test_ivr_naming_a_missing_procedure_cannot_be_saved(pbx):
    store, _ = pbx
    tree = {"type": "menu", "keys": {"1": {"type": "action", "procedure": "nowhere"}}}
    with pytest.raises(Exception, match="nowhere"):
        procedures.add_entry(store, None, "main", "555", [{"app": "ivr", "params": {"tree": tree}}])


# -- voicemail -----------------------------------------------------------------------------


def test_voicemail_is_recorded_and_mailed_with_the_audio_attached(pbx, smtp_server):
    need_tools("espeak-ng", "sox")
    store, services = pbx
    inbox, port = smtp_server
    smtp.set_profile(store, None, {"server": "127.0.0.1", "port": port, "sender": "pbx@example.com"})
    add_user(store, "201", email="alice@example.com")
    add_user(store, "202", email="secretary@example.com")
    subscribe_voicemail(store, None, "202", "201")            # shared voicemail
    write_sound(services, "short_greeting", 440.0)
    procedures.add_entry(store, None, "main", "8201", [
        {"app": "voicemail", "params": {"box": "201", "greeting": "short_greeting", "silence": 0}}])

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="0698765432", caller_name="Bob", called="8201",
                         procedure="main")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await until(lambda: hears(phone.heard(), 1000.0))      # the beep
        await phone.send_pcm(tone_pcm((600.0,), 12000, 7000))  # 1.5 s "message"
        await phone.send_digits("#")
        await finish(task)
        phone.close()
        return call

    call = run(scenario())
    messages = services.mailbox("201").messages()
    assert len(messages) == 1 and messages[0].caller_number == "0698765432"
    assert 1.0 < messages[0].seconds < 3.0
    assert sorted(r for rcpts, _ in inbox.messages for r in rcpts) == ["alice@example.com", "secretary@example.com"]
    mail = email.message_from_bytes(inbox.messages[0][1])
    assert "0698765432" in mail["Subject"]
    parts = [p for p in mail.walk() if p.get_filename()]
    assert parts and parts[0].get_content_type() == "audio/wav"
    with wave.open(io.BytesIO(parts[0].get_payload(decode=True)), "rb") as wav:
        assert wav.getframerate() == 8000
        audio = wav.readframes(wav.getnframes())
    assert hears(audio[: len(audio) // 2], 600.0)              # what the caller said
    assert any("mailed to" in line for line in call.lines)


def test_voicemail_kept_when_the_caller_hangs_up_and_without_smtp(pbx):
    store, services = pbx
    add_user(store, "201", email="alice@example.com")
    write_sound(services, "short_greeting", 440.0)
    procedures.add_entry(store, None, "main", "8201", [
        {"app": "voicemail", "params": {"box": "201", "greeting": "short_greeting", "silence": 0}}])

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="0698765432", called="8201", procedure="main")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await until(lambda: hears(phone.heard(), 1000.0))
        await phone.send_pcm(tone_pcm((600.0,), 8000, 7000))
        call.caller_hangs_up()
        await finish(task)
        phone.close()
        return call

    call = run(scenario())
    assert len(services.mailbox("201").messages()) == 1
    assert any("nobody to mail" in line for line in call.lines)


def test_voicemail_access_with_keypad_pin_lists_plays_and_deletes(pbx):
    need_tools("espeak-ng", "sox")
    store, services = pbx
    add_user(store, "201", web_password=PASSWORD)
    install_feature_codes(store, None)
    mailbox = services.mailbox("201")
    rec = mailbox.new_recording_path()
    with wave.open(str(rec), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(tone_pcm((850.0,), 16000, 6000))
    mailbox.save(rec, "0611111111", "Carol", 2.0)

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="201", called="97")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await phone.send_digits("0000#")                       # a wrong PIN first
        await until(lambda: any("wrong PIN" in line for line in call.lines))
        await phone.send_digits(KEYPAD + "#")
        await until(lambda: hears(phone.heard(), 850.0), timeout=30)   # the message plays
        await phone.send_digits("7")                           # delete it
        await finish(task)
        phone.close()
        return call

    call = run(scenario())
    assert mailbox.messages() == []
    assert any("deleted" in line for line in call.lines)


# -- feature codes ---------------------------------------------------------------------------


def test_feature_codes_are_dialplan_data_installed_once(pbx):
    store, _ = pbx
    assert sorted(install_feature_codes(store, None)) == sorted(FEATURE_CODES)
    entries = {e["pattern"]: e["apps"] for e in procedures.get_procedure(store, "pbxinternal")["entries"]}
    assert entries["76"] == [{"app": "echo", "params": {"seconds": None, "prompt": True}}]
    procedures.delete_entry(store, None, "pbxinternal", "93")   # the admin removes one
    assert install_feature_codes(store, None) == []               # never put back
    assert "93" not in {e["pattern"] for e in procedures.get_procedure(store, "pbxinternal")["entries"]}


def test_76_echo_test_sends_the_callers_audio_back(pbx):
    store, services = pbx
    add_user(store, "201")
    install_feature_codes(store, None)
    procedures.set_apps(store, None, "pbxinternal", "76", [{"app": "echo", "params": {"prompt": False, "seconds": 3}}])

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="201", called="76")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        talk = asyncio.ensure_future(phone.send_pcm(tone_pcm((730.0,), 16000, 7000)))
        await until(lambda: hears(phone.heard(), 730.0))
        await talk
        await finish(task)
        phone.close()
        return call

    call = run(scenario())
    assert any("echo test" in line for line in call.lines)


@pytest.mark.parametrize("code,accepted", [(KEYPAD, True), ("22399", False)])
def test_99_login_assigns_the_phone_with_the_keypad_password(pbx, code, accepted):
    need_tools("espeak-ng", "sox")
    store, services = pbx
    add_user(store, "201", web_password=PASSWORD)
    install_feature_codes(store, None)
    procedures.set_apps(store, None, "pbxinternal", "99", [{"app": "phone_login", "params": {"tries": 1}}])

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="login7", called="99", procedure="pbxinternal")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await phone.send_digits("201#")
        await phone.send_digits(code + "#")
        await finish(task)
        phone.close()

    run(scenario())
    row = store.one("SELECT extension FROM phone_logins WHERE device = 'login7'")
    assert (row is not None and row["extension"] == "201") is accepted


def test_99_accepts_the_super_admins_password(pbx):
    need_tools("espeak-ng", "sox")
    store, services = pbx
    add_user(store, "201", web_password=PASSWORD)
    install_feature_codes(store, None)

    async def scenario():
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="login8", called="99", procedure="pbxinternal")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await phone.send_digits("201#")
        await phone.send_digits("94534#")          # "wildi", the admin's factory password, on a keypad
        await finish(task)
        phone.close()

    run(scenario())
    assert store.one("SELECT extension FROM phone_logins WHERE device = 'login8'")["extension"] == "201"


def test_93_toggles_the_switch_the_caller_names(pbx):
    need_tools("espeak-ng", "sox")
    store, services = pbx
    add_user(store, "201")
    install_feature_codes(store, None)
    catalog.add_switch(store, None, "night", 2, "off")
    catalog.add_switch(store, None, "7", 3, "on")

    async def toggle(keys):
        phone = RtpPhone()
        call = MediaCall(services, phone, caller_number="201", called="93")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await phone.send_digits(keys + "#")
        await finish(task)
        phone.close()
        return call

    run(toggle("2"))                                  # the second switch in name order: "night"
    assert {s["name"]: s["state"] for s in catalog.list_switches(store)} == {"7": "on", "night": "on"}
    run(toggle("7"))                                  # the switch named 7 (three states)
    assert {s["name"]: s["state"] for s in catalog.list_switches(store)} == {"7": "extra", "night": "on"}
    call = run(toggle("55"))
    assert any("no switch" in line for line in call.lines)


# -- fax detection ---------------------------------------------------------------------------


@pytest.mark.parametrize("fax", [True, False])
def test_cng_tone_sends_the_call_to_the_fax_branch(pbx, fax):
    store, services = pbx
    add_user(store, "300")
    add_user(store, "500")
    procedures.add_entry(store, None, "main", "329", [{"app": "dial", "params": {"target": "300"}}])
    procedures.add_entry(store, None, "main", "0140000000", [
        {"app": "fax_detect", "params": {"seconds": 3, "procedure": "main", "number": "329"}},
        {"app": "dial", "params": {"target": "500"}}])

    async def scenario():
        phone = RtpPhone(codec="PCMA", event_pt=None)
        call = MediaCall(services, phone, caller_number="0155555555", called="0140000000", procedure="main")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        sound = tone_pcm((1100.0,), 4800, 8000) if fax else tone_pcm((440.0, 480.0), 4800, 5000)
        await phone.send_pcm(sound + bytes(4000))
        await finish(task)
        phone.close()
        return call

    call = run(scenario())
    assert call.rings == ([["300"]] if fax else [["500"]])
