"""The SMTP profile and notifier against a real ``aiosmtpd`` server on loopback:
plain, STARTTLS with login, implicit TLS, refused logins, and the missed-call
mail the dialplan service sends on a ``MissedCall`` event."""

import asyncio
import ssl
import subprocess
import time

import pytest

from tests.conftest import need_tool
from tests.daemon_runner import free_port
from wpbxd.bus import EventBus
from wpbxd.config import users
from wpbxd.control import ControlServer
from wpbxd.errors import ValidationError
from wpbxd.events import MissedCall
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.services import smtp

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd is in deps/pip-test.txt")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

USER, PASSWORD = "pbx", "s3cret-pass"
MAIL_WAIT = 10.0  # seconds


class Inbox:
    def __init__(self):
        self.messages = []
        self.helo = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.helo.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == USER and data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    need_tool("openssl")
    folder = tmp_path_factory.mktemp("cert")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(crt), str(key))
    return context


@pytest.fixture
def server(request):
    servers = []

    def start(**kw):
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kw)
        controller.start()
        servers.append(controller)
        return inbox, controller.port

    yield start
    for controller in servers:
        controller.stop()


def profile(port, **kw):
    return smtp.SmtpProfile(**{"sender": "pbx@example.com", "server": "127.0.0.1", "port": port,
                               "helo": "pbx.example.com", **kw})


def test_plain_smtp_delivers_the_test_mail_with_our_helo(server):
    inbox, port = server()
    smtp.send_test_mail(profile(port), "admin@example.com")
    (sender, rcpt, body), = inbox.messages
    assert sender == "pbx@example.com" and rcpt == ["admin@example.com"]
    assert "Subject: wpbx test mail" in body and inbox.helo == ["pbx.example.com"]


def test_starttls_with_login(server, cert):
    inbox, port = server(tls_context=cert, require_starttls=True, authenticator=_authenticator,
                         auth_required=True)
    smtp.send_test_mail(profile(port, security="starttls", verify_tls=False, username=USER, password=PASSWORD),
                        "admin@example.com")
    assert len(inbox.messages) == 1


def test_wrong_password_and_untrusted_certificate_give_clear_errors(server, cert):
    inbox, port = server(tls_context=cert, require_starttls=True, authenticator=_authenticator,
                         auth_required=True)
    with pytest.raises(smtp.MailError, match="refused the login: 535"):
        smtp.send_test_mail(profile(port, security="starttls", verify_tls=False, username=USER,
                                    password="wrong"), "a@example.com")
    with pytest.raises(smtp.MailError, match="TLS with 127.0.0.1"):
        smtp.send_test_mail(profile(port, security="starttls", username=USER, password=PASSWORD), "a@example.com")
    with pytest.raises(smtp.MailError, match="530|STARTTLS"):
        smtp.send_test_mail(profile(port), "a@example.com")
    assert inbox.messages == []


def test_implicit_tls(server, cert):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=cert)
    controller.start()
    try:
        smtp.send_test_mail(profile(port, security="tls", verify_tls=False), "admin@example.com")
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_no_server_listening_is_a_clear_error():
    with pytest.raises(smtp.MailError, match="cannot send mail through 127.0.0.1"):
        smtp.send_test_mail(profile(free_port(), ), "a@example.com")


@pytest.mark.parametrize("values, field", [({"port": 0}, "port"), ({"security": "ssl3"}, "security"),
                                           ({"sender": "nobody"}, "sender"), ({"colour": 1}, None)])
def test_bad_profiles_are_refused_and_keep_the_old_one(store, values, field):
    smtp.set_profile(store, None, {"sender": "pbx@example.com", "server": "mail.example.com", "port": 587})
    before = smtp.get_profile(store)
    with pytest.raises(ValidationError) as err:
        smtp.set_profile(store, None, values)
    assert err.value.field == field
    assert smtp.get_profile(store) == before
    assert smtp.get_profile(store).public()["password"] == ""


def test_missed_call_event_sends_a_mail_to_the_user(store, server, tmp_path):
    from wpbxd.telephony.dialplan.service import DialplanService

    inbox, port = server()
    users.add_user(store, None, {"name": "Alice", "extension": "101", "email": "alice@example.com"})
    smtp.set_profile(store, None, {"sender": "pbx@example.com", "server": "127.0.0.1", "port": port})

    async def scenario():
        bus = EventBus()
        bus.attach_loop(asyncio.get_running_loop())
        ctx = ServiceContext(DaemonConfig(data_dir=tmp_path), store, bus, ControlServer(tmp_path / "s.sock"))
        service = DialplanService(ctx)
        await service.start()
        bus.publish(MissedCall("101", "0611223344", "Bob", "101", time.time()))
        deadline = time.monotonic() + MAIL_WAIT
        while not inbox.messages and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await service.stop()
        return service.status()

    status = asyncio.run(scenario())
    (sender, rcpt, body), = inbox.messages
    assert rcpt == ["alice@example.com"] and "Subject: Missed call from 0611223344" in body
    assert "From: Bob <0611223344>" in body and status["missed_call_mails"] == 1
