"""End to end through a real wpbxd with real SIP peers: the PBX answers calls itself.

- a baresip softphone calls 76 (echo test) and hears its own tone back;
- sipp calls an IVR and walks the seed's three levels with RFC 4733 digits played
  from a pcap; the call ends at the right extension (a baresip that answers);
- sipp leaves a voicemail that arrives at an aiosmtpd server with the audio
  attached, then listens to it and deletes it through the access code (97) with
  the keypad PIN;
- a G.729-only sipp calls a G.711-only baresip: what baresip decodes is the
  pcap's audio (transcoded G.729 -> PCMA), and a G.711 baresip calling a G.729-only
  sipp that echoes RTP hears its own tone after G.711 -> G.729 -> G.711;
- a CNG tone in the caller's audio sends the call to the fax branch.
"""

import base64
import csv
import email
import io
import math
import os
import socket
import subprocess
import time
import wave
from array import array
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.daemon_runner import free_port
from tests.media_engine.pcap import rtp_stream, write_pcap
from tests.sip import sipp
from tests.sip.conftest import password_for
from tests.sip.test_baresip import MODULES, Baresip, wait_registered
from wpbxd.telephony.media.dtmf import tone_pcm

PASSWORD = "Ab3$xyz9Q!"        # web password; keypad code of its first five characters: 223*9
KEYPAD = "223*9"
SIPP_TIMEOUT = 60               # seconds; bounds a stuck call only


@pytest.fixture
def pbx(wpbxd):
    need_tool("sipp")
    return wpbxd


def add_users(pbx, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["extension", "name", "sip_password", "email", "web_password"])
    writer.writeheader()
    for row in rows:
        writer.writerow({"name": f"User {row['extension']}", "sip_password": password_for(row["extension"]), **row})
    pbx.call("user.import", {"csv": buf.getvalue()})


def upload_tone(pbx, name: str, freq: float, seconds: float = 0.4) -> None:
    data = io.BytesIO()
    with wave.open(data, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(tone_pcm((freq,), int(8000 * seconds), 6000))
    pbx.call("sounds.upload", {"name": name, "filename": f"{name}.wav",
                               "data": base64.b64encode(data.getvalue()).decode()})


def pcm_of(path: Path) -> tuple[array, int]:
    with wave.open(str(path)) as w:
        rate, channels, frames = w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())
    samples = array("h", frames)
    if channels == 2:
        samples = samples[::2]
    return samples, rate


def tone_share(samples, rate: int, freq: float) -> float:
    """Share of the signal's power at ``freq`` (Goertzel over the whole stretch)."""
    n = len(samples)
    if n == 0:
        return 0.0
    k = round(n * freq / rate)
    c = 2.0 * math.cos(2.0 * math.pi * k / n)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + c * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - c * s1 * s2
    total = sum(x * x for x in samples) / n
    return 0.0 if total < 1e4 else power * 2.0 / (n * n * total)


def heard_tone(rec_dir: Path, freq: float, window: float = 0.5) -> float:
    """The best share of ``freq`` over windows of what a baresip decoded."""
    best = 0.0
    for path in rec_dir.glob("*dec*.wav"):
        samples, rate = pcm_of(path)
        step = int(rate * window)
        for i in range(0, max(0, len(samples) - step), step // 2):
            best = max(best, tone_share(samples[i:i + step], rate, freq))
    return best


def baresip(tmp_path: Path, pbx, ext: str, tone: int = 440) -> Baresip:
    need_tool("baresip")
    if not Path(MODULES, "sndfile.so").exists():
        pytest.skip("baresip sndfile module missing")
    phone = Baresip(tmp_path / f"bs{ext}", ext, pbx.sip_port, tone=tone)
    phone.connect()
    return phone


def uac_until_bye(sdp_media: str | None = None, pcap: str | None = None) -> str:
    """CSV: caller;[authentication ...];callee. The PBX answers, the pcap plays, the PBX hangs up."""
    text = sipp.HEAD.format(name="uac-until-bye") + sipp._authenticated_invite()
    text += ('  <recv response="180" optional="true" response_txn="invite"/>\n'
             '  <recv response="183" optional="true" response_txn="invite"/>\n'
             '  <recv response="200" rrs="true" rtd="true" response_txn="invite"/>\n' + sipp._ack(2))
    if pcap:
        text += f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
    text += sipp.answer_bye()
    text += sipp.TAIL
    return _g729_only(text) if sdp_media == "g729" else text


def _g729_only(text: str) -> str:
    g711 = "m=audio [media_port] RTP/AVP 8 0 101\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000"
    assert g711 in text
    return text.replace(g711, "m=audio [media_port] RTP/AVP 18 101\na=rtpmap:18 G729/8000\na=fmtp:18 annexb=no")


def run_uac(pbx, workdir: Path, scenario_text: str, caller: str, callee: str, *extra: str, wait: bool = True):
    scenario = sipp.write(workdir / f"uac-{caller}-{callee}.xml", scenario_text)
    users = sipp.users_csv(workdir / f"uac-{caller}.csv", [(caller, password_for(caller))], callee=callee)
    return sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1",
                    "-p", str(free_port()), "-mp", str(free_port()), *extra, cwd=workdir,
                    timeout=SIPP_TIMEOUT, wait=wait)


def cdr_rows(pbx, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        rows = pbx.call("cdr.list")
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"{len(rows)} CDR rows, expected {count}")


def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "sipp"
    path.mkdir(exist_ok=True)
    return path


# -- 76: echo test -------------------------------------------------------------------------


def test_baresip_calling_76_hears_its_own_tone(pbx, tmp_path):
    add_users(pbx, [{"extension": "201"}])
    phone = baresip(tmp_path, pbx, "201", tone=440)
    try:
        wait_registered(pbx, ["201"])
        phone.command(f"dial sip:76@127.0.0.1:{pbx.sip_port}")
        phone.wait_event("CALL_ESTABLISHED")
        time.sleep(10)             # the prompt (~3 s), the beep, then several seconds of echo
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
    finally:
        phone.stop()
    assert heard_tone(phone.rec, 440.0) > 0.5, "baresip did not hear its own 440 Hz tone back"
    rows = cdr_rows(pbx, 1)
    assert rows[0]["callee_number"] == "76" and rows[0]["disposition"] == "ANSWERED"


# -- IVR -----------------------------------------------------------------------------------

SEED_TREE = {
    "type": "menu", "sound": "ivr_language", "repeat": 3, "timeout": 4,
    "keys": {
        "1": {"type": "menu", "sound": "ivr_english", "return_code": "*",
              "keys": {"1": {"type": "action", "procedure": "users", "number": "123"},
                       "2": {"type": "action", "procedure": "users", "number": "224"}}},
        "2": {"type": "menu", "sound": "ivr_french", "return_code": "*",
              "keys": {"1": {"type": "action", "procedure": "IVR", "number": "111"},
                       "2": {"type": "action", "procedure": "IVR", "number": "222"}}},
    },
}


def test_sipp_walks_the_three_level_ivr_with_rfc4733_and_reaches_the_extension(pbx, tmp_path):
    add_users(pbx, [{"extension": "5001"}, {"extension": "301"}, {"extension": "401"}])
    for name, freq in (("ivr_language", 500.0), ("ivr_english", 700.0), ("ivr_french", 900.0)):
        upload_tone(pbx, name, freq)
    pbx.call("dialplan.add", {"name": "IVR", "description": "IVR destinations"})
    pbx.call("dialplan.entry.add", {"procedure": "IVR", "pattern": "111",
                                    "apps": [{"app": "dial", "params": {"target": "301"}}]})
    pbx.call("dialplan.entry.add", {"procedure": "IVR", "pattern": "222",
                                    "apps": [{"app": "dial", "params": {"target": "401"}}]})
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "500",
                                    "apps": [{"app": "ivr", "params": {"tree": SEED_TREE}}]})
    callee = baresip(tmp_path, pbx, "301", tone=650)
    work = workdir(tmp_path)
    silence = bytes(8000 * 2 * 9)        # 9 s of packets; keys at 1.5 s ("2": French) and 3 s ("1": support)
    pcap = write_pcap(work / "ivr.pcap", rtp_stream(silence, "PCMA", {1.5: "2", 3.0: "1"}))
    try:
        wait_registered(pbx, ["301"])
        result = run_uac(pbx, work, sipp.uac_call(pcap=str(pcap)), "5001", "500", "-d", "8000")
        assert result.returncode == 0, sipp.errors(work) or result.stderr[-2000:]
    finally:
        callee.stop()
    row = cdr_rows(pbx, 1)[0]
    assert row["callee_number"] == "301" and row["disposition"] == "ANSWERED", row


# -- voicemail -------------------------------------------------------------------------------


def test_voicemail_arrives_by_mail_and_is_deleted_through_the_access_code(pbx, tmp_path, smtp_server):
    need_tool("espeak-ng")
    inbox, port = smtp_server
    pbx.call("smtp.set", {"values": {"server": "127.0.0.1", "port": port, "sender": "pbx@example.com"}})
    add_users(pbx, [{"extension": "5001"}, {"extension": "201", "email": "alice@example.com",
                                            "web_password": PASSWORD}])
    upload_tone(pbx, "short_greeting", 440.0, 0.3)
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "8201", "apps": [
        {"app": "voicemail", "params": {"box": "201", "greeting": "short_greeting", "silence": 0}}]})
    work = workdir(tmp_path)
    message = bytes(8000 * 2) + tone_pcm((600.0,), 8000 * 2, 7000) + bytes(1600)   # beep time, 2 s of 600 Hz
    pcap = write_pcap(work / "vm.pcap", rtp_stream(message + bytes(8000 * 2 * 6), "PCMA", {3.3: "#"}))
    result = run_uac(pbx, work, uac_until_bye(pcap=str(pcap)), "5001", "8201")
    assert result.returncode == 0, sipp.errors(work) or result.stderr[-2000:]
    deadline = time.monotonic() + 15
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    assert inbox.messages, "no voicemail mail arrived"
    rcpts, raw = inbox.messages[0]
    assert rcpts == ["alice@example.com"]
    mail = email.message_from_bytes(raw)
    attachment = next(p for p in mail.walk() if p.get_filename())
    assert attachment.get_content_type() == "audio/wav"
    with wave.open(io.BytesIO(attachment.get_payload(decode=True))) as wav:
        samples = array("h", wav.readframes(wav.getnframes()))
        rate = wav.getframerate()
    assert max(tone_share(samples[i:i + 4000], rate, 600.0) for i in range(0, len(samples) - 4000, 2000)) > 0.5
    listed = pbx.call("voicemail.list", {"extension": "201"})
    assert len(listed) == 1 and listed[0]["caller"] == "5001"

    # 97 from the owner's phone: PIN (keypad code of the web password), hear it, 7 deletes it.
    access = bytes(8000 * 2 * 24)
    pcap = write_pcap(work / "access.pcap", rtp_stream(access, "PCMA", {1.0: "2", 1.3: "2", 1.6: "3", 1.9: "*",
                                                                        2.2: "9", 2.5: "#", 9.0: "7"}))
    result = run_uac(pbx, work, uac_until_bye(pcap=str(pcap)), "201", "97")
    assert result.returncode == 0, sipp.errors(work) or result.stderr[-2000:]
    assert pbx.call("voicemail.list", {"extension": "201"}) == []


# -- transcoding --------------------------------------------------------------------------------


def test_g729_only_caller_and_g711_only_callee_hear_each_other(pbx, tmp_path):
    need_tool("baresip")
    add_users(pbx, [{"extension": "5001"}, {"extension": "302"}, {"extension": "303"}])
    work = workdir(tmp_path)
    # 1) sipp offers only G.729 and plays a G.729 pcap of 700 Hz; baresip (G.711 only) decodes it.
    callee = baresip(tmp_path, pbx, "302", tone=440)
    tone = tone_pcm((700.0,), 8000 * 5, 6000)
    pcap = write_pcap(work / "g729.pcap", rtp_stream(tone, "G729"))
    try:
        wait_registered(pbx, ["302"])
        result = run_uac(pbx, work, _g729_only(sipp.uac_call(pcap=str(pcap))), "5001", "302", "-d", "6000")
        assert result.returncode == 0, sipp.errors(work) or result.stderr[-2000:]
    finally:
        callee.stop()
    assert heard_tone(callee.rec, 700.0) > 0.5, "the G.711 phone did not decode the G.729 caller's tone"
    row = cdr_rows(pbx, 1)[0]
    assert row["codec"] in ("G729<>PCMA", "G729<>PCMU"), row

    # 2) baresip (G.711) calls a G.729-only sipp that echoes RTP: its tone comes back
    #    after G.711 -> G.729 (to sipp) and G.729 -> G.711 (the echo, back to baresip).
    uas_port = free_port()
    reg = sipp.write(work / "register.xml", sipp.register())
    users = sipp.users_csv(work / "reg-303.csv", [("303", password_for("303"))])
    result = sipp.run(reg, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1", "-p", str(uas_port),
                      cwd=work, timeout=20)
    assert result.returncode == 0, sipp.errors(work) or result.stderr[-2000:]
    uas = sipp.run(sipp.write(work / "uas.xml", _g729_only(sipp.uas("answer"))), f"127.0.0.1:{pbx.sip_port}",
                   "-m", "1", "-p", str(uas_port), "-rtp_echo", "-mp", str(free_port()), cwd=work,
                   timeout=SIPP_TIMEOUT, wait=False)
    caller = baresip(tmp_path, pbx, "5001", tone=520)
    try:
        wait_registered(pbx, ["5001"])
        caller.command(f"dial sip:303@127.0.0.1:{pbx.sip_port}")
        caller.wait_event("CALL_ESTABLISHED")
        time.sleep(6)              # long enough that a loaded machine still gives seconds of echo
        caller.command("hangup")
        caller.wait_event("CALL_CLOSED")
    finally:
        caller.stop()
        try:
            uas.wait(timeout=20)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()
    assert "frequency 520 Hz" in (caller.home / "baresip.log").read_text(errors="replace"), \
        "baresip did not start with the 520 Hz tone"
    assert heard_tone(caller.rec, 520.0) > 0.5, "the G.711 phone did not hear its tone back through G.729"
    row = next(r for r in cdr_rows(pbx, 2) if r["callee_number"] == "303")
    assert row["codec"] in ("PCMA<>G729", "PCMU<>G729"), row


# -- fax detection -----------------------------------------------------------------------------


@pytest.mark.parametrize("fax", [True, False])
def test_cng_tone_sends_the_call_to_the_fax_branch(pbx, tmp_path, fax):
    """Seed "Détection de fax": a fax's CNG within the delay jumps to the fax number."""
    add_users(pbx, [{"extension": "5001"}])
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "329",
                                    "apps": [{"app": "hangup", "params": {"code": 480, "reason": "fax branch"}}]})
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "0140000000", "apps": [
        {"app": "fax_detect", "params": {"seconds": 4, "procedure": "users", "number": "329"}},
        {"app": "hangup", "params": {"code": 480, "reason": "voice branch"}}]})
    work = workdir(tmp_path)
    sound = tone_pcm((1100.0,), 4400, 8000) if fax else tone_pcm((440.0, 480.0), 4400, 5000)
    pcap = write_pcap(work / "cng.pcap", rtp_stream(bytes(4000) + sound + bytes(8000 * 2 * 5), "PCMA"))
    result = run_uac(pbx, work, uac_until_bye(pcap=str(pcap)), "5001", "0140000000")
    assert result.returncode == 0, sipp.errors(work) or result.stderr[-2000:]
    row = cdr_rows(pbx, 1)[0]
    assert row["hangup_cause"] == ("fax branch" if fax else "voice branch"), row


# -- music on hold ----------------------------------------------------------------------------


class Sniffer:
    """Captures the UDP payloads a relay port sends on loopback (AF_PACKET, root): what a
    phone receives, without relying on the phone to record it."""

    def __init__(self, src_port: int) -> None:
        import threading
        self.src_port = src_port
        self.payloads: list[bytes] = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            if addr[2] == socket.PACKET_OUTGOING or len(frame) < 42 or frame[12:14] != b"\x08\x00":
                continue
            ihl = (frame[14] & 0x0F) * 4
            if frame[23] != 17:
                continue
            udp = 14 + ihl
            if int.from_bytes(frame[udp:udp + 2], "big") == self.src_port:
                self.payloads.append(frame[udp + 8:])

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


def test_a_held_callee_hears_the_music_on_hold(pbx, tmp_path):
    """sipp (caller) talks (300 Hz pcap), puts sipp (callee) on hold (a=sendonly) for 3 s,
    resumes: what the PBX sends the callee is the caller's voice, then the default music
    on hold (notes C5 E5 G5 E5, from a new SSRC), then the caller's voice again."""
    if os.geteuid() != 0:
        pytest.skip("capturing on loopback needs root")
    from wpbxd.telephony.media import g711, rtp
    add_users(pbx, [{"extension": "5001"}, {"extension": "304"}])
    work = workdir(tmp_path)
    uas_port = free_port()
    reg = sipp.write(work / "register.xml", sipp.register())
    users = sipp.users_csv(work / "reg-304.csv", [("304", password_for("304"))])
    result = sipp.run(reg, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1", "-p", str(uas_port),
                      cwd=work, timeout=20)
    assert result.returncode == 0, sipp.errors(work) or result.stderr[-2000:]
    uas = sipp.run(sipp.write(work / "uas.xml", sipp.uas("hold")), f"127.0.0.1:{pbx.sip_port}", "-m", "1",
                   "-p", str(uas_port), "-mp", str(free_port()), cwd=work, timeout=SIPP_TIMEOUT, wait=False)
    pcap = write_pcap(work / "talk.pcap", rtp_stream(tone_pcm((300.0,), 8000 * 9, 6000), "PCMA"))
    scenario = sipp.uac_call(pcap=str(pcap), hold=True).replace('<pause milliseconds="300"/>',
                                                                  '<pause milliseconds="3000"/>')
    scenario = scenario.replace('<recv response="200"/>\n' + sipp._ack(4),
                                '<recv response="200"/>\n' + sipp._ack(4) + '  <pause milliseconds="1500"/>\n')
    uac = run_uac(pbx, work, scenario, "5001", "304", "-d", "1500", wait=False)
    sniffer = None
    try:
        deadline = time.monotonic() + 10
        while sniffer is None and time.monotonic() < deadline:
            calls = pbx.call("calls.list")
            if calls and calls[0]["state"] == "answered" and calls[0]["media"]:
                sniffer = Sniffer(calls[0]["media"][0]["b"]["local_port"])
            time.sleep(0.05)
        assert sniffer is not None, "the call was never answered"
        assert uac.wait(timeout=SIPP_TIMEOUT) == 0, sipp.errors(work)
    finally:
        if sniffer is not None:
            sniffer.stop()
        for proc in (uac, uas):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    by_ssrc: dict[int, list] = {}
    order: list[int] = []
    for payload in sniffer.payloads:
        try:
            packet = rtp.parse(payload)
        except rtp.RtpError:
            continue
        if packet.payload_type != 8:
            continue
        if packet.ssrc not in by_ssrc:
            order.append(packet.ssrc)
        by_ssrc.setdefault(packet.ssrc, []).append(packet)
    assert len(order) == 2, f"SSRCs seen: {order}"
    voice = array("h", g711.alaw_decode(b"".join(p.payload for p in by_ssrc[order[0]])))
    music = array("h", g711.alaw_decode(b"".join(p.payload for p in by_ssrc[order[1]])))
    assert tone_share(voice[:4000], 8000, 300.0) > 0.5
    assert 2.0 < len(music) / 8000 < 4.5                     # about the 3 s of hold
    assert max(tone_share(music[i:i + 2400], 8000, 659.25) for i in range(0, len(music) - 2400, 800)) > 0.5
    sequence = [p.ssrc for p in sniffer_rtp(sniffer.payloads)]
    assert sequence[-1] == order[0]                          # the caller's voice again after the resume


def sniffer_rtp(payloads: list[bytes]) -> list:
    from wpbxd.telephony.media import rtp
    out = []
    for payload in payloads:
        try:
            out.append(rtp.parse(payload))
        except rtp.RtpError:
            continue
    return out
