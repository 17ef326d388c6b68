"""Unit tests of the sans-IO SIP core: messages, URIs, stream framing, digest, transactions.

Time is injected: no sockets, no sleeps.
"""

import pytest

from wpbxd.telephony.sip import digest
from wpbxd.telephony.sip.message import (
    ParseError,
    Request,
    StreamFramer,
    make_response,
    parse,
)
from wpbxd.telephony.sip.transaction import T1, T2, T4, TransactionError, TransactionLayer
from wpbxd.telephony.sip.uri import parse_address, parse_uri

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport\r\n"
    b"From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: call-1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_roundtrip_keeps_headers_and_recomputes_content_length():
    req = parse(INVITE)
    req.body = b"hello"
    again = parse(req.to_bytes())
    assert isinstance(again, Request)
    assert again.body == b"hello" and again.get("content-length") == "5"
    assert again.address("from").display == "Alice"
    assert again.top_via.params == {"branch": "z9hG4bKabc", "rport": None}


def test_header_names_are_case_insensitive_and_compact_forms_expand():
    req = parse(INVITE.replace(b"Call-ID", b"i").replace(b"CSeq", b"cSEQ"))
    assert req.call_id == "call-1" and req.cseq == (1, "INVITE")


def test_udp_without_content_length_takes_the_rest_of_the_datagram():
    data = INVITE.replace(b"Content-Length: 0\r\n", b"") + b"body"
    assert parse(data).body == b"body"


def test_tcp_requires_content_length():
    with pytest.raises(ParseError):
        parse(INVITE.replace(b"Content-Length: 0\r\n", b""), stream=True)


def test_stream_framer_splits_messages_across_reads_and_skips_keepalives():
    framer = StreamFramer()
    body_msg = INVITE.replace(b"Content-Length: 0", b"Content-Length: 4") + b"abcd"
    data = b"\r\n\r\n" + INVITE + body_msg
    out = []
    for i in range(0, len(data), 7):
        out.extend(framer.feed(data[i:i + 7]))
    assert len(out) == 2 and parse(out[1], stream=True).body == b"abcd"


def test_stream_framer_refuses_missing_content_length():
    with pytest.raises(ParseError):
        StreamFramer().feed(INVITE.replace(b"Content-Length: 0\r\n", b""))


def test_uri_parts_and_tel_uri():
    uri = parse_uri("sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=x")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == ("sips", "alice", "pw", "[2001:db8::1]", 5061)
    assert uri.params == {"transport": "tcp", "lr": None} and uri.headers == "subject=x"
    assert str(uri) == "sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=x"
    tel = parse_uri("tel:+33123456789;phone-context=example.com")
    assert tel.opaque == "+33123456789" and tel.params["phone-context"] == "example.com"


def test_addr_spec_parameters_belong_to_the_header():
    addr = parse_address("sip:bob@example.com;tag=xyz")
    assert addr.params == {"tag": "xyz"} and addr.uri.params == {}


def test_multi_value_headers_split_outside_quotes():
    req = parse(INVITE.replace(b"Max-Forwards: 70\r\n",
                               b"Contact: \"a, b\" <sip:a@h>, <sip:b@h>;q=0.5\r\nMax-Forwards: 70\r\n"))
    assert req.get_all("contact") == ['"a, b" <sip:a@h>', "<sip:b@h>;q=0.5"]


def test_response_copies_dialog_headers_and_adds_to_tag():
    resp = make_response(parse(INVITE), 180, "Ringing", to_tag="t1")
    assert resp.to_tag == "t1" and resp.call_id == "call-1" and resp.cseq == (1, "INVITE")


# -- digest (RFC 7616 / 2617) ------------------------------------------------------
def _creds(auth, challenge, password="Secret#1", nc="00000001", method="REGISTER", algorithm=None):
    params = digest.parse_params(challenge)
    algorithm = algorithm or params["algorithm"]
    response = digest.digest_response(algorithm, "101", params["realm"], password, method,
                                      "sip:pbx", params["nonce"], "auth", nc, "cn")
    return digest.Credentials("101", params["realm"], params["nonce"], "sip:pbx", response,
                              algorithm, "auth", nc, "cn", None)


@pytest.mark.parametrize("index,algorithm", [(0, "MD5"), (1, "SHA-256")])
def test_digest_accepts_right_password_with_md5_and_sha256(index, algorithm):
    auth = digest.DigestAuthenticator("wpbx")
    challenge = auth.challenge(now=100.0)[index]
    assert f"algorithm={algorithm}" in challenge
    assert auth.verify(_creds(auth, challenge), "REGISTER", "Secret#1", now=101.0).ok


def test_digest_refuses_wrong_password():
    auth = digest.DigestAuthenticator("wpbx")
    verdict = auth.verify(_creds(auth, auth.challenge(0.0)[0], password="Wrong#1"), "REGISTER", "Secret#1", 1.0)
    assert not verdict.ok and not verdict.stale and verdict.reason == "wrong password"


def test_digest_nonce_count_replay_is_refused_but_next_count_is_fine():
    auth = digest.DigestAuthenticator("wpbx")
    challenge = auth.challenge(0.0)[0]
    assert auth.verify(_creds(auth, challenge), "REGISTER", "Secret#1", 1.0).ok
    replay = auth.verify(_creds(auth, challenge), "REGISTER", "Secret#1", 2.0)
    assert not replay.ok and replay.stale
    assert auth.verify(_creds(auth, challenge, nc="00000002"), "REGISTER", "Secret#1", 3.0).ok


def test_digest_nonce_expires():
    auth = digest.DigestAuthenticator("wpbx", nonce_ttl=30.0)
    challenge = auth.challenge(0.0)[0]
    verdict = auth.verify(_creds(auth, challenge), "REGISTER", "Secret#1", 31.0)
    assert not verdict.ok and verdict.stale


def test_digest_forged_nonce_is_unknown():
    auth = digest.DigestAuthenticator("wpbx")
    other = digest.DigestAuthenticator("wpbx")
    verdict = auth.verify(_creds(auth, other.challenge(0.0)[0]), "REGISTER", "Secret#1", 1.0)
    assert not verdict.ok and verdict.reason == "unknown nonce"


def test_digest_header_parsing_handles_quotes_and_commas():
    p = digest.parse_params('Digest username="a,b", realm="r", nonce="n", uri="sip:x", response="f", qop=auth, nc=00000001')
    assert p["username"] == "a,b" and p["qop"] == "auth" and p["nc"] == "00000001"


# -- transactions (RFC 3261 §17) with injected time ----------------------------------
class Recorder:
    def __init__(self):
        self.requests, self.acks, self.stray = [], [], []

    def on_request(self, txn, req):
        self.requests.append((txn, req))

    def on_ack(self, req, source):
        self.acks.append(req)

    def on_stray_response(self, resp, source):
        self.stray.append(resp)


def _layer():
    sent = []
    tu = Recorder()
    layer = TransactionLayer(lambda data, target: sent.append(parse(data)), tu)
    return layer, sent, tu


def _run_until(layer, until):
    while (t := layer.get_timer()) is not None and t <= until:
        layer.handle_timer(t)


TARGET = ("udp", "192.0.2.9", 5060)


def test_invite_client_retransmits_with_timer_a_doubling_and_times_out_with_timer_b():
    layer, sent, _ = _layer()
    txn = layer.send_request(parse(INVITE), TARGET, now=0.0)
    timeouts = []
    txn.on_timeout = lambda t: timeouts.append(t)
    times = []
    while (t := layer.get_timer()) is not None:
        layer.handle_timer(t)
        times.append(t)
    # Timer A: T1, 2T1, 4T1 ... until Timer B at 64*T1 (§17.1.1.2)
    assert times[:4] == [T1, 3 * T1, 7 * T1, 15 * T1]
    assert len(sent) == 7 and timeouts == [txn] and txn.state == "terminated"
    assert not layer.clients


def test_invite_client_acks_a_failure_and_absorbs_its_retransmission_until_timer_d():
    layer, sent, _ = _layer()
    txn = layer.send_request(parse(INVITE), TARGET, now=0.0)
    got = []
    txn.on_response = lambda t, r: got.append(r.status)
    resp = make_response(parse(INVITE), 486, "Busy Here", to_tag="x")
    layer.receive_response(parse(resp.to_bytes()), TARGET, now=0.1)
    layer.receive_response(parse(resp.to_bytes()), TARGET, now=0.2)
    acks = [m for m in sent if isinstance(m, Request) and m.method == "ACK"]
    assert got == [486] and len(acks) == 2 and acks[0].to_tag == "x"
    assert txn.state == "completed"
    layer.handle_timer(32.1)
    assert txn.state == "terminated"


def test_non_invite_client_retransmits_capped_at_t2():
    layer, sent, _ = _layer()
    req = parse(INVITE.replace(b"INVITE", b"OPTIONS"))
    layer.send_request(req, TARGET, now=0.0)
    times = []
    while (t := layer.get_timer()) is not None and t < 64 * T1:
        layer.handle_timer(t)
        times.append(t)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps[:4] == [T1, 2 * T1, 4 * T1, T2] and max(gaps) == T2


def test_non_invite_client_timer_k_on_udp_and_zero_on_tcp():
    for reliable, expect in ((False, T4), (True, 0.0)):
        layer, _, _ = _layer()
        req = parse(INVITE.replace(b"INVITE", b"BYE"))
        txn = layer.send_request(req, TARGET, now=0.0, reliable=reliable)
        layer.receive_response(make_response(req, 200, "OK"), TARGET, now=1.0)
        assert txn.state == "completed"
        assert layer.get_timer() == 1.0 + expect


def test_server_absorbs_request_retransmission_and_resends_last_response():
    layer, sent, tu = _layer()
    req = parse(INVITE.replace(b"INVITE", b"OPTIONS"))
    layer.receive_request(req, TARGET, now=0.0)
    txn = tu.requests[0][0]
    layer.respond(txn, make_response(req, 200, "OK"), now=0.1)
    layer.receive_request(parse(INVITE.replace(b"INVITE", b"OPTIONS")), TARGET, now=0.2)
    assert len(tu.requests) == 1 and [m.status for m in sent] == [200, 200]
    _run_until(layer, 0.1 + 64 * T1)
    assert not layer.servers


def test_invite_server_retransmits_failure_until_ack_then_confirmed():
    layer, sent, tu = _layer()
    req = parse(INVITE)
    layer.receive_request(req, TARGET, now=0.0)
    txn = tu.requests[0][0]
    layer.respond(txn, make_response(req, 100, "Trying"), now=0.0)
    layer.respond(txn, make_response(req, 486, "Busy Here", to_tag="b"), now=0.0)
    _run_until(layer, 1.6)          # Timer G at T1 and 3*T1
    assert [m.status for m in sent] == [100, 486, 486, 486]
    ack = parse(INVITE.replace(b"INVITE sip", b"ACK sip").replace(b"1 INVITE", b"1 ACK"))
    layer.receive_request(ack, TARGET, now=1.7)
    assert txn.state == "confirmed" and not tu.acks
    _run_until(layer, 1.7 + T4)
    assert txn.state == "terminated"


def test_invite_server_times_out_with_timer_h_without_ack():
    layer, sent, tu = _layer()
    req = parse(INVITE)
    layer.receive_request(req, TARGET, now=0.0)
    txn = tu.requests[0][0]
    timeouts = []
    txn.on_timeout = timeouts.append
    layer.respond(txn, make_response(req, 404, "Not Found", to_tag="b"), now=0.0)
    _run_until(layer, 64 * T1)
    assert timeouts == [txn]


def test_ack_for_2xx_goes_to_the_transaction_user():
    layer, sent, tu = _layer()
    req = parse(INVITE)
    layer.receive_request(req, TARGET, now=0.0)
    layer.respond(tu.requests[0][0], make_response(req, 200, "OK", to_tag="b"), now=0.0)
    ack = parse(INVITE.replace(b"INVITE sip", b"ACK sip").replace(b"1 INVITE", b"1 ACK")
                .replace(b"branch=z9hG4bKabc", b"branch=z9hG4bKother"))
    layer.receive_request(ack, TARGET, now=0.1)
    assert tu.acks == [ack]


def test_illegal_transaction_user_event_raises():
    layer, sent, tu = _layer()
    req = parse(INVITE.replace(b"INVITE", b"OPTIONS"))
    layer.receive_request(req, TARGET, now=0.0)
    txn = tu.requests[0][0]
    layer.respond(txn, make_response(req, 200, "OK"), now=0.0)
    with pytest.raises(TransactionError):
        layer.respond(txn, make_response(req, 200, "OK"), now=0.0)


def test_invite_retransmission_after_2xx_is_absorbed_in_accepted_state():
    """RFC 6026 §7.1: not a new request for the TU; Timer L then forgets the transaction."""
    layer, sent, tu = _layer()
    req = parse(INVITE)
    layer.receive_request(req, TARGET, now=0.0)
    txn = tu.requests[0][0]
    layer.respond(txn, make_response(req, 200, "OK", to_tag="b"), now=0.1)
    assert txn.state == "accepted"
    layer.receive_request(parse(INVITE), TARGET, now=0.6)
    assert len(tu.requests) == 1 and [m.status for m in sent] == [200]
    ack = parse(INVITE.replace(b"INVITE sip", b"ACK sip").replace(b"1 INVITE", b"1 ACK"))
    layer.receive_request(ack, TARGET, now=0.7)      # an ACK reusing the INVITE branch still reaches the TU
    assert tu.acks == [ack]
    _run_until(layer, 0.1 + 64 * T1)
    assert txn.state == "terminated" and not layer.servers
