"""RFC 3261 §8.2.7: challenges to non-INVITE requests without credentials are stateless."""

from tests.sip.test_core import INVITE, TARGET, _layer
from wpbxd.telephony.sip.message import make_response, parse
from wpbxd.telephony.sip.transaction import CHALLENGE_KEEP

REGISTER = INVITE.replace(b"INVITE sip:", b"REGISTER sip:").replace(b" INVITE\r\n", b" REGISTER\r\n")


def test_challenge_without_credentials_keeps_no_transaction_and_answers_retransmissions_alike():
    layer, sent, tu = _layer()
    req = parse(REGISTER)
    assert req.method == "REGISTER" and req.cseq[1] == "REGISTER"
    layer.receive_request(req, TARGET, now=0.0)
    layer.respond(tu.requests[0][0], make_response(req, 401, "Unauthorized", to_tag="x"), now=0.0)
    assert [r.status for r in sent] == [401]
    assert layer.servers == {} and layer.get_timer() is None
    layer.receive_request(parse(REGISTER), TARGET, now=0.5)        # the 401 was lost: the same one again
    assert len(tu.requests) == 1
    assert len(sent) == 2 and sent[1].to_bytes() == sent[0].to_bytes()
    layer.receive_request(parse(REGISTER), TARGET, now=2 * CHALLENGE_KEEP + 0.1)  # forgotten: new
    assert len(tu.requests) == 2


def test_challenge_to_request_with_credentials_keeps_its_transaction():
    layer, sent, tu = _layer()
    with_auth = REGISTER.replace(b"\r\n\r\n", b'\r\nAuthorization: Digest username="a", realm="r", nonce="n",'
                                              b' uri="sip:x", response="0"\r\n\r\n', 1)
    req = parse(with_auth)
    assert "authorization" in req.headers
    layer.receive_request(req, TARGET, now=0.0)
    layer.respond(tu.requests[0][0], make_response(req, 401, "Unauthorized", to_tag="x"), now=0.0)
    layer.receive_request(parse(with_auth), TARGET, now=0.5)      # absorbed: the 401 is resent
    assert len(tu.requests) == 1
    assert [r.status for r in sent] == [401, 401]
    assert len(layer.servers) == 1
