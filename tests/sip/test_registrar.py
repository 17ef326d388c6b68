"""Registrar, authentication, bans and robustness against a running wpbxd.

A small UDP client built on our own message module sends the REGISTERs the
sipp scenarios cannot express (several contacts, ``*``, SHA-256, Min-Expires)
and raw garbage; sipp drives the brute-force case.
"""

import json
import os
import socket
import time

import pytest

from tests.sip import sipp
from tests.sip.conftest import add_users, password_for
from tests.sip.test_torture import INVALID_REQUESTS, VALID
from wpbxd.telephony.sip.digest import digest_response, parse_params
from wpbxd.telephony.sip.message import Response, parse

EXT = "5001"
SHORT_EXPIRES = 8           # seconds


class Phone:
    """One UDP socket that sends requests and reads the final responses."""

    def __init__(self, pbx, ext: str = EXT, password: str | None = None) -> None:
        self.pbx = pbx
        self.ext = ext
        self.password = password or password_for(ext)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.port = self.sock.getsockname()[1]
        self.call_id = os.urandom(6).hex()
        self.cseq = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.pbx.sip_port))

    def receive(self) -> Response | None:
        while True:
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                return None
            msg = parse(data)
            if isinstance(msg, Response) and msg.status >= 200:
                return msg

    def request(self, method: str = "REGISTER", contacts: tuple[str, ...] = ("default",),
                expires: int | None = 3600, auth: str | None = None, extra: str = "") -> Response | None:
        self.cseq += 1
        lines = [f"{method} sip:127.0.0.1:{self.pbx.sip_port} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{os.urandom(6).hex()};rport",
                 f"From: <sip:{self.ext}@127.0.0.1>;tag=f{self.port}",
                 f"To: <sip:{self.ext}@127.0.0.1>", f"Call-ID: {self.call_id}",
                 f"CSeq: {self.cseq} {method}", "Max-Forwards: 70"]
        for contact in contacts:
            lines.append(f"Contact: <sip:{self.ext}@127.0.0.1:{self.port}>" if contact == "default" else
                         f"Contact: {contact}")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if auth:
            lines.append(f"Authorization: {auth}")
        if extra:
            lines.append(extra)
        self.send(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
        return self.receive()

    def register(self, contacts: tuple[str, ...] = ("default",), expires: int | None = 3600,
                 algorithm: str = "MD5", password: str | None = None) -> Response | None:
        challenge = self.request(contacts=contacts, expires=expires)
        assert challenge is not None and challenge.status == 401, challenge
        offered = {parse_params(v)["algorithm"]: parse_params(v) for v in challenge.get_all("www-authenticate")}
        params = offered.get(algorithm) or next(iter(offered.values()))
        uri = f"sip:127.0.0.1:{self.pbx.sip_port}"
        response = digest_response(algorithm, self.ext, params["realm"], password or self.password, "REGISTER",
                                   uri, params["nonce"], "auth", "00000001", "abcdef")
        auth = (f'Digest username="{self.ext}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
                f'uri="{uri}", response="{response}", algorithm={algorithm}, qop=auth, nc=00000001, '
                f'cnonce="abcdef"')
        return self.request(contacts=contacts, expires=expires, auth=auth)


@pytest.fixture
def phone(wpbxd):
    add_users(wpbxd, [EXT, "5002"])
    p = Phone(wpbxd)
    yield p
    p.close()


def aor_contacts(pbx, aor: str = EXT) -> list[str]:
    return sorted(r["contact"] for r in pbx.call("registrations.list") if r["aor"] == aor)


def test_several_contacts_then_unregister_one_and_all_with_star(wpbxd, phone):
    """RFC 3261 §10.2.1-10.2.2: add bindings, remove one with expires=0, remove all with *."""
    a, b = "<sip:5001@127.0.0.1:7001>", "<sip:5001@127.0.0.1:7002>;expires=600"
    resp = phone.register(contacts=(a, b))
    assert resp is not None and resp.status == 200 and len(resp.get_all("contact")) == 2
    assert aor_contacts(wpbxd) == ["sip:5001@127.0.0.1:7001", "sip:5001@127.0.0.1:7002"]
    resp = phone.register(contacts=("<sip:5001@127.0.0.1:7001>;expires=0",))
    assert resp is not None and resp.status == 200
    assert aor_contacts(wpbxd) == ["sip:5001@127.0.0.1:7002"]
    resp = phone.register(contacts=("*",), expires=0)
    assert resp is not None and resp.status == 200 and not resp.get_all("contact")
    assert aor_contacts(wpbxd) == []


def test_star_without_expires_zero_is_refused(wpbxd, phone):
    resp = phone.register(contacts=("*",), expires=3600)
    assert resp is not None and resp.status == 400


def test_too_short_expiry_gets_423_with_min_expires(wpbxd, phone):
    resp = phone.register(expires=10)
    assert resp is not None and resp.status == 423 and resp.get("min-expires") == "60"


def test_sha256_digest_registers_when_offered(wpbxd, phone):
    wpbxd.call("settings.set", {"key": "sip.digest_algorithms", "value": "SHA-256,MD5"})
    challenge = phone.request()
    assert challenge is not None
    assert [parse_params(v)["algorithm"] for v in challenge.get_all("www-authenticate")] == ["SHA-256", "MD5"]
    resp = phone.register(algorithm="SHA-256")
    assert resp is not None and resp.status == 200


def test_registering_another_users_extension_is_forbidden(wpbxd, phone):
    phone.ext = "5002"          # To: 5002, credentials of 5002 would be needed
    resp = phone.register(password=password_for(EXT))
    assert resp is not None and resp.status == 401       # wrong password for 5002: challenged again


def test_wrong_password_is_challenged_again_then_banned_then_unbanned(wpbxd, sipp_dir):
    """Brute force: N failures within T seconds ban the address; wpbxctl unban lifts it."""
    add_users(wpbxd, [EXT])
    wpbxd.call("settings.set", {"key": "sip.ban.max_failures", "value": 3})
    bad = sipp.register().replace('<recv response="200" rtd="true"/>', '<recv response="401"/>')
    scenario = sipp.write(sipp_dir / "bad.xml", bad)
    users = sipp.users_csv(sipp_dir / "bad.csv", [(EXT, "Wrong_pass1")])
    result = sipp.run(scenario, f"127.0.0.1:{wpbxd.sip_port}", "-inf", str(users), "-m", "3", "-l", "1",
                      cwd=sipp_dir)
    assert result.returncode == 0, sipp.errors(sipp_dir)    # 401 each time the password was wrong
    bans = json.loads(wpbxd.ctl("show", "bans", "--json").stdout)
    assert [b["address"] for b in bans] == ["127.0.0.1"] and bans[0]["failures"] == 3
    assert "wrong password" in bans[0]["reason"]
    assert "127.0.0.1" in wpbxd.ctl("show", "bans").stdout
    phone = Phone(wpbxd)
    try:
        assert phone.request("OPTIONS", contacts=()) is None          # silently dropped
        assert wpbxd.call("status")["sip"]["dropped"] >= 1
        assert "unbanned" in wpbxd.ctl("unban", "127.0.0.1").stdout
        resp = phone.request("OPTIONS", contacts=())
        assert resp is not None and resp.status == 200
        assert wpbxd.ctl("unban", "127.0.0.1", check=False).returncode != 0
    finally:
        phone.close()


def test_bans_survive_a_restart_and_reload_on_config_changed(wpbxd_factory, tmp_path):
    pbx = wpbxd_factory()
    add_users(pbx, [EXT])
    pbx.call("settings.set", {"key": "sip.ban.max_failures", "value": 2})
    phone = Phone(pbx, password="Wrong_pass1")
    for _ in range(2):
        assert phone.register(password="Wrong_pass1").status == 401
    phone.close()
    assert [b["address"] for b in pbx.call("bans.list")] == ["127.0.0.1"]
    pbx.stop()
    again = wpbxd_factory(data_dir=pbx.data_dir, sip_port=pbx.sip_port)
    assert [b["address"] for b in again.call("bans.list")] == ["127.0.0.1"]


def test_registrations_survive_a_restart_and_expire_on_time(wpbxd_factory):
    pbx = wpbxd_factory()
    add_users(pbx, [EXT, "5002"])
    pbx.call("settings.set", {"key": "sip.register.min_expires", "value": 1})
    long_phone, short_phone = Phone(pbx), Phone(pbx, "5002")
    assert long_phone.register().status == 200
    assert short_phone.register(expires=SHORT_EXPIRES).status == 200
    registered = time.monotonic()
    long_phone.close()
    short_phone.close()
    pbx.stop()                           # stopping writes what the batch writer had not written yet
    again = wpbxd_factory(data_dir=pbx.data_dir, sip_port=pbx.sip_port)
    if time.monotonic() - registered >= SHORT_EXPIRES:
        pytest.skip("the restart took longer than the short registration lasts (loaded machine)")
    assert {r["aor"] for r in again.call("registrations.list")} == {EXT, "5002"}
    deadline = time.monotonic() + SHORT_EXPIRES + 5
    while time.monotonic() < deadline and len(again.call("registrations.list")) > 1:
        time.sleep(0.5)
    assert [r["aor"] for r in again.call("registrations.list")] == [EXT]
    assert [r["aor"] for r in json.loads(again.ctl("show", "registrations", "--json").stdout)] == [EXT]


def test_malformed_packets_get_400_or_are_dropped_and_the_daemon_survives(wpbxd):
    """RFC 4475 messages and garbage over UDP and TCP; OPTIONS still answered after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(1.0)
    target = ("127.0.0.1", wpbxd.sip_port)
    rng = __import__("random").Random(4475)
    junk = [b"", b"\r\n\r\n", b"\x00" * 100, b"INVITE", b"SIP/2.0 200 OK\r\n\r\n",
            bytes(rng.getrandbits(8) for _ in range(1400))]
    for data in [*VALID.values(), *(d for d, _ in INVALID_REQUESTS.values()), *junk]:
        sock.sendto(data, target)
    statuses = []
    while True:
        try:
            data, _ = sock.recvfrom(65535)
        except TimeoutError:
            break
        statuses.append(parse(data).status)
    assert statuses.count(400) >= 10 and 505 in statuses
    with socket.create_connection(target, timeout=2) as tcp:
        tcp.sendall(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKt\r\n\r\n")
        assert tcp.recv(100) == b""      # no Content-Length on a stream: the connection is closed
    phone = Phone(wpbxd)
    try:
        resp = phone.request("OPTIONS", contacts=())
        assert resp is not None and resp.status == 200
    finally:
        phone.close()
    assert wpbxd.proc.poll() is None
    assert "Traceback" not in wpbxd.log()


def test_tcp_register_and_options(wpbxd):
    add_users(wpbxd, [EXT])
    with socket.create_connection(("127.0.0.1", wpbxd.sip_port), timeout=2) as tcp:
        port = tcp.getsockname()[1]
        msg = (f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKtcp1\r\n"
               f"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: tcp1\r\nCSeq: 1 OPTIONS\r\n"
               f"Content-Length: 0\r\n\r\n").encode()
        tcp.sendall(msg[:40])
        time.sleep(0.1)
        tcp.sendall(msg[40:])
        data = tcp.recv(4096)
    assert data.startswith(b"SIP/2.0 200 OK")


def test_a_ban_deleted_in_the_store_is_lifted_on_config_changed(wpbxd):
    """The recovery console deletes sip_bans rows and publishes ConfigChanged('bans')."""
    import sqlite3

    add_users(wpbxd, [EXT])
    wpbxd.call("settings.set", {"key": "sip.ban.max_failures", "value": 1})
    phone = Phone(wpbxd)
    try:
        assert phone.register(password="Wrong_pass1").status == 401
        assert [b["address"] for b in wpbxd.call("bans.list")] == ["127.0.0.1"]
        with sqlite3.connect(wpbxd.data_dir / "wpbx.db") as db:
            db.execute("DELETE FROM sip_bans")
        wpbxd.ctl("reload")                     # publishes ConfigChanged('all'), as 'bans' does
        assert wpbxd.call("bans.list") == []
        resp = phone.request("OPTIONS", contacts=())
        assert resp is not None and resp.status == 200
    finally:
        phone.close()
