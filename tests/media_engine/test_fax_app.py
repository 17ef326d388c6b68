"""The ``fax_to_email`` application (seed "Fax vers e-mail") in the real dialplan engine
from a real store, with a spandsp fax machine on loopback RTP at the far end of the
call's media channel and aiosmtpd as the mail server. (``test_fax_e2e.py`` runs the
same through a real wpbxd and SIP.)"""

import asyncio
import email
import shutil

import pytest

from tests.media_engine.callharness import MediaCall, add_user, make_store, start, template_store
from tests.media_engine.rtpphone import RtpPhone, until
from tests.media_engine.test_fax_channel import FaxPhone
from tests.media_engine.test_fax_receiver import need_spandsp, pdf_pages, write_fax_tiff
from wpbxd.errors import ValidationError
from wpbxd.hw import areas
from wpbxd.services import smtp
from wpbxd.telephony.dialplan import procedures
from wpbxd.telephony.dialplan.apps.fax_to_email import FaxToEmail
from wpbxd.telephony.media import fax
from wpbxd.telephony.media.services import PbxMediaServices

CALL_TIMEOUT = 150  # seconds; bounds a stuck test only


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return template_store(tmp_path_factory.mktemp("tpl") / "wpbx.db")


@pytest.fixture
def pbx(tmp_path, template):
    store = make_store(template, tmp_path)
    services = PbxMediaServices(store, None, tmp_path / "data")
    yield store, services
    store.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, CALL_TIMEOUT))


def received_faxes(services) -> list:
    folder = areas.area_path(services.data_dir, "faxes") / "received"
    return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("to, message", [
    ("", "who gets the faxes"),
    ("101 not-an-address", "'not-an-address' is neither an extension nor an email address"),
    ("alice@", "neither an extension nor an email address"),
])
def test_bad_recipients_are_refused_when_saved(to, message):
    with pytest.raises(ValidationError, match=message):
        FaxToEmail({"to": to})


def test_recipients_are_normalised_and_the_default_limit_applies():
    app = FaxToEmail({"to": " 101  boss@example.com,101 "})
    assert app.params == {"to": "101 boss@example.com", "max_seconds": 600}


def test_a_fax_detected_on_the_main_number_is_received_stored_and_mailed(pbx, smtp_server, tmp_path):
    """Seed: "Détection de fax" jumps to the "fax" number, whose "Fax vers e-mail" mails the
    fax to user 201 (their address) and to an address; the fax is kept on the storage."""
    need_spandsp()
    store, services = pbx
    inbox, port = smtp_server
    smtp.set_profile(store, None, {"server": "127.0.0.1", "port": port, "sender": "pbx@example.com"})
    add_user(store, "201", email="alice@example.com")
    add_user(store, "202")
    procedures.add_entry(store, None, "main", "329", [
        {"app": "fax_to_email", "params": {"to": "201 boss@example.com 202 209"}}])
    procedures.add_entry(store, None, "main", "0140000000", [
        {"app": "fax_detect", "params": {"seconds": 5, "procedure": "main", "number": "329"}},
        {"app": "hangup", "params": {"code": 480, "reason": "voice branch"}}])

    async def scenario():
        phone = FaxPhone(write_fax_tiff(tmp_path / "page.tif"))
        phone.event_pt = None
        call = MediaCall(services, phone, caller_number="0155555555", called="0140000000", procedure="main")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        sent = await phone.send_fax()
        await asyncio.wait_for(task, 60)
        phone.close()
        return call, sent

    call, sent = run(scenario())
    assert sent.ok, (sent, call.lines)
    assert any(line.startswith("fax received: 1 page(s)") for line in call.lines), call.lines
    assert "fax to e-mail: user 202 has no email address: no copy for them" in call.lines
    assert "fax to e-mail: no user 209: no copy for them" in call.lines
    assert call.hangups and call.hangups[-1][1] == "fax received"
    kept = received_faxes(services)
    tiffs = [p for p in kept if p.suffix == ".tif"]
    assert len(tiffs) == 1 and "0155555555" in tiffs[0].name, kept
    assert fax.count_tiff_pages(tiffs[0].read_bytes()) == 1
    assert not [p for p in kept if p.name.endswith(areas.PARTIAL_SUFFIX)]
    pdfs = [p for p in kept if p.suffix == ".pdf"]
    assert len(pdfs) == (1 if shutil.which("tiff2pdf") else 0), kept   # libtiff-tools makes the PDF
    assert sorted(r for rcpts, _ in inbox.messages for r in rcpts) == ["alice@example.com", "boss@example.com"]
    mail = email.message_from_bytes(inbox.messages[0][1])
    assert "0155555555" in mail["Subject"] and "1 page" in mail["Subject"]
    attachment = next(p for p in mail.walk() if p.get_filename())
    content = attachment.get_payload(decode=True)
    if pdfs:
        assert attachment.get_content_type() == "application/pdf"
        assert content.startswith(b"%PDF") and pdf_pages(content) == 1
    else:
        assert attachment.get_content_type() == "image/tiff"
        assert fax.count_tiff_pages(content) == 1


def test_a_caller_that_never_faxes_leaves_nothing_and_gets_no_mail(pbx, smtp_server):
    """No T.30 from the far end (silence, then hangup): nothing stored, nothing mailed, a reason traced."""
    need_spandsp()
    store, services = pbx
    inbox, port = smtp_server
    smtp.set_profile(store, None, {"server": "127.0.0.1", "port": port, "sender": "pbx@example.com"})
    procedures.add_entry(store, None, "main", "329", [
        {"app": "fax_to_email", "params": {"to": "boss@example.com"}}])

    async def scenario():
        phone = RtpPhone(codec="PCMA", event_pt=None)
        call = MediaCall(services, phone, caller_number="0155555555", called="329", procedure="main")
        task = start(store, call)
        await until(lambda: call.channel is not None)
        await phone.send_silence(2.0)
        call.caller_hangs_up()
        await asyncio.wait_for(task, 30)
        phone.close()
        return call

    call = run(scenario())
    assert "fax failed: the caller hung up before the fax ended; 0 page(s) received" in call.lines, call.lines
    assert "fax to e-mail: no page arrived; nothing kept, nothing mailed" in call.lines
    assert received_faxes(services) == []
    assert inbox.messages == []


def test_a_g729_call_is_refused_because_fax_needs_g711(pbx):
    need_spandsp()
    store, services = pbx
    procedures.add_entry(store, None, "main", "329", [
        {"app": "fax_to_email", "params": {"to": "boss@example.com"}}])

    async def scenario():
        phone = RtpPhone(codec="G729", event_pt=None)
        call = MediaCall(services, phone, caller_number="0155555555", called="329", procedure="main")
        await asyncio.wait_for(start(store, call), 30)
        phone.close()
        return call

    call = run(scenario())
    assert "fax to e-mail: the call is G729; a fax needs G.711 (PCMA/PCMU)" in call.lines, call.lines
    assert call.hangups == [(488, "Not Acceptable Here")]
    assert received_faxes(services) == []


def test_without_libspandsp_the_call_is_refused_with_a_clear_trace(pbx, monkeypatch):
    """A box whose libspandsp is missing (simulated by naming a library that does not
    exist): the call gets 503 before any answer, the trace says why, nothing crashes."""
    store, services = pbx
    monkeypatch.setattr(fax, "LIBRARY", "libspandsp-not-installed.so.0")
    monkeypatch.setattr(fax, "_loaded", None)
    procedures.add_entry(store, None, "main", "329", [
        {"app": "fax_to_email", "params": {"to": "boss@example.com"}}])

    async def scenario():
        phone = RtpPhone(codec="PCMA", event_pt=None)
        call = MediaCall(services, phone, caller_number="0155555555", called="329", procedure="main")
        await asyncio.wait_for(start(store, call), 30)
        phone.close()
        return call

    call = run(scenario())
    assert "fax to e-mail: fax reception not available (libspandsp missing)" in call.lines, call.lines
    assert call.hangups == [(503, "Service Unavailable")] and not call.answered
    assert not fax.available()
