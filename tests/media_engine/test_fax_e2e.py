"""End to end through a real wpbxd: a fax machine calls the office's number, whose
"Détection de fax" hears its CNG and jumps to the number running ``fax_to_email``
(seed "Fax vers e-mail"); the fax arrives at aiosmtpd attached to the mail for the
user's address, and stays on the storage.

The test side's fax machine is sipp for SIP (digest, INVITE offering PCMA/PCMU
with the test's own RTP port, the PBX's media port read from the 200 OK, the
PBX's BYE at the end) and ``FaxPhone`` for the media: a spandsp calling terminal
paced every 20 ms in real time, G.711 A-law through the PBX's relay to its
media channel's fax receiver.
"""

import asyncio
import email
import time
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.daemon_runner import free_port
from tests.media_engine.test_e2e_sip import add_users, workdir
from tests.media_engine.test_fax_channel import FaxPhone
from tests.media_engine.test_fax_receiver import need_spandsp, pdf_pages, write_fax_tiff
from tests.sip import sipp
from tests.sip.conftest import password_for
from wpbxd.telephony.media import fax

SIPP_TIMEOUT = 120              # seconds; bounds a stuck call only
PORT_FILE = "pbx_media_port.txt"


@pytest.fixture
def pbx(wpbxd):
    need_tool("sipp")
    need_spandsp()
    return wpbxd


def uac_fax(rtp_port: int) -> str:
    """CSV: caller;[authentication ...];callee. Offers ``rtp_port`` (the test's socket), writes
    the PBX's media port into ``PORT_FILE``, ACKs, and waits for the PBX's BYE."""
    text = sipp.HEAD.format(name="uac-fax") + sipp._authenticated_invite()
    assert "m=audio [media_port] " in text
    text = text.replace("m=audio [media_port] ", f"m=audio {rtp_port} ")
    text += ('  <recv response="180" optional="true" response_txn="invite"/>\n'
             '  <recv response="183" optional="true" response_txn="invite"/>\n'
             '  <recv response="200" rrs="true" rtd="true" response_txn="invite">\n'
             '    <action><ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true"'
             ' assign_to="mline,pbxport"/>\n'
             f'    <exec command="echo \'[$pbxport] [$mline]\' > {PORT_FILE}"/></action>\n'
             '  </recv>\n' + sipp._ack(2))
    text += sipp.answer_bye()
    return text + sipp.TAIL


async def pbx_media_port(work: Path, proc, timeout: float = 30) -> int:
    path = work / PORT_FILE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return int(path.read_text().split()[0])
        if proc.poll() is not None:
            raise AssertionError(f"sipp ended before the 200 OK: {sipp.errors(work)} {proc.stderr.read()[-2000:]}")
        await asyncio.sleep(0.05)
    raise AssertionError("no 200 OK with SDP from the PBX")


def test_a_fax_called_in_over_sip_reaches_the_users_mailbox_as_a_one_page_attachment(pbx, tmp_path, smtp_server):
    inbox, port = smtp_server
    pbx.call("smtp.set", {"values": {"server": "127.0.0.1", "port": port, "sender": "pbx@example.com"}})
    add_users(pbx, [{"extension": "5001"}, {"extension": "201", "email": "alice@example.com"}])
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "329", "apps": [
        {"app": "fax_to_email", "params": {"to": "201"}}]})
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "0140000000", "apps": [
        {"app": "fax_detect", "params": {"seconds": 5, "procedure": "users", "number": "329"}},
        {"app": "hangup", "params": {"code": 480, "reason": "voice branch"}}]})
    work = workdir(tmp_path)
    tiff = write_fax_tiff(tmp_path / "page.tif")

    async def scenario():
        phone = FaxPhone(tiff)
        scenario_file = sipp.write(work / "uac-fax.xml", uac_fax(phone.port))
        users = sipp.users_csv(work / "uac-5001.csv", [("5001", password_for("5001"))], callee="0140000000")
        proc = sipp.run(scenario_file, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1",
                        "-p", str(free_port()), "-mp", str(free_port()), cwd=work, timeout=SIPP_TIMEOUT,
                        wait=False)
        try:
            phone.target = ("127.0.0.1", await pbx_media_port(work, proc))
            started = time.monotonic()
            sent = await phone.send_fax(max_seconds=SIPP_TIMEOUT)
            seconds = time.monotonic() - started
        finally:
            phone.close()
        loop = asyncio.get_running_loop()
        code = await loop.run_in_executor(None, lambda: proc.wait(timeout=SIPP_TIMEOUT))
        return sent, seconds, code, proc.stderr.read()

    sent, seconds, code, stderr = asyncio.run(scenario())
    print(f"fax of 1 page sent in {seconds:.1f} s at {sent.bit_rate} bit/s")
    assert sent.ok, (sent, pbx.log_path.read_text()[-3000:])
    assert code == 0, sipp.errors(work) or stderr[-2000:]
    deadline = time.monotonic() + 20
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    assert inbox.messages, "no fax mail arrived"
    rcpts, raw = inbox.messages[0]
    assert rcpts == ["alice@example.com"]
    mail = email.message_from_bytes(raw)
    assert "5001" in mail["Subject"] and "1 page" in mail["Subject"]
    attachment = next(p for p in mail.walk() if p.get_filename())
    content = attachment.get_payload(decode=True)
    if attachment.get_content_type() == "application/pdf":
        assert content.startswith(b"%PDF") and pdf_pages(content) == 1
    else:
        assert attachment.get_content_type() == "image/tiff"
        assert fax.count_tiff_pages(content) == 1
    kept = list((pbx.data_dir / "storage" / "faxes" / "received").glob("*.tif"))
    assert len(kept) == 1 and fax.count_tiff_pages(kept[0].read_bytes()) == 1
