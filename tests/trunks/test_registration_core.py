"""Sans-IO cores of trunks: outbound registration (RFC 3261 §10, §22), keep-alive, SRV order (RFC 2782)."""

from wpbxd.telephony.sip.digest import DigestAuthenticator, parse_credentials
from wpbxd.telephony.sip.message import Request, make_response
from wpbxd.telephony.trunks.keepalive import KeepAlive
from wpbxd.telephony.trunks.registration import DOWN, FAILED, REGISTERED, RegistrationClient
from wpbxd.telephony.trunks.resolver import SrvRecord, order_srv

VIA = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx;rport"
CONTACT = "<sip:acme@127.0.0.1:5060>"


def _client(**kw) -> RegistrationClient:
    return RegistrationClient("acme", "voip.example", "acme", "s3cret", 300, retry_base=10, retry_max=40, **kw)


def _provider_answer(client: RegistrationClient, req: Request, server: DigestAuthenticator, password: str, now: float):
    values = req.get_all("authorization")
    if not values:
        return make_response(req, 401, "Unauthorized", "t", [("www-authenticate", c) for c in server.challenge(now)])
    verdict = server.verify(parse_credentials(values[0]), "REGISTER", password, now)
    if not verdict.ok:
        return make_response(req, 401, "Unauthorized", "t", [("www-authenticate", c) for c in server.challenge(now)])
    return make_response(req, 200, "OK", "t", [("contact", CONTACT + ";expires=120")])


def test_register_answers_the_challenge_and_refreshes_before_expiry():
    client = _client()
    server = DigestAuthenticator("voip.example")
    now = 1000.0
    assert client.due(now)
    first = client.build(now, VIA, CONTACT)
    assert first.method == "REGISTER" and first.uri == "sip:voip.example"
    assert not first.get_all("authorization")
    client.on_response(_provider_answer(client, first, server, "s3cret", now), now)
    assert client.due(now)                                  # answer the challenge at once
    second = client.build(now, VIA, CONTACT)
    assert second.cseq[0] == first.cseq[0] + 1 and second.call_id == first.call_id
    client.on_response(_provider_answer(client, second, server, "s3cret", now), now)
    assert client.status.state == REGISTERED
    assert client.status.expires_at == now + 120
    refresh = client.get_timer()
    assert now < refresh < now + 120                         # refreshed before it runs out
    assert not client.due(refresh - 1) and client.due(refresh)


def test_wrong_password_fails_with_the_reason_and_backs_off():
    client = _client()
    server = DigestAuthenticator("voip.example")
    now = 0.0
    for _ in range(2):
        req = client.build(now, VIA, CONTACT)
        client.on_response(_provider_answer(client, req, server, "other", now), now)
    assert client.status.state == FAILED
    assert "refused the login or password" in client.status.reason
    assert client.get_timer() == now + 10                    # first back-off
    now = client.get_timer()
    for _ in range(2):
        req = client.build(now, VIA, CONTACT)
        client.on_response(_provider_answer(client, req, server, "other", now), now)
    assert client.get_timer() == now + 20                    # doubled
    client.on_timeout(now)
    assert client.status.state == DOWN and client.get_timer() == now + 40   # capped at retry_max


def test_provider_error_is_reported_and_423_raises_expiry():
    client = _client()
    req = client.build(0.0, VIA, CONTACT)
    client.on_response(make_response(req, 423, "Interval Too Brief", "t", [("min-expires", "900")]), 0.0)
    assert client.expires == 900 and client.due(0.0)
    req = client.build(0.0, VIA, CONTACT)
    assert req.get("expires") == "900"
    client.on_response(make_response(req, 403, "Forbidden by provider", "t"), 0.0)
    assert client.status.state == FAILED and client.status.reason == "403 Forbidden by provider"


def test_registration_expires_when_no_refresh_got_through():
    client = _client()
    req = client.build(0.0, VIA, CONTACT)
    client.on_response(make_response(req, 200, "OK", "t", [("expires", "60")]), 0.0)
    assert client.status.state == REGISTERED
    client.build(client.get_timer(), VIA, CONTACT)           # refresh sent, never answered
    client.handle_timer(61.0)
    assert client.status.state == DOWN


def test_keepalive_marks_down_after_misses_and_up_on_any_answer():
    ka = KeepAlive(interval=10, answer_timeout=2, misses_down=2, now=0.0)
    assert ka.due(0.0)
    ka.sending(0.0)
    assert not ka.handle_timer(1.0)
    assert not ka.handle_timer(2.0) and ka.up and ka.misses == 1
    ka.sending(10.0)
    assert ka.handle_timer(12.0) and not ka.up
    ka.sending(20.0)
    assert ka.answered(20.5) and ka.up                       # a 404 or 405 counts too


def test_srv_order_is_by_priority_then_weighted_random():
    records = [SrvRecord(20, 0, 5060, "backup"), SrvRecord(10, 60, 5060, "a"), SrvRecord(10, 40, 5060, "b")]
    # rng 0.0 picks the first of the weighted pool, 0.99 the last
    assert [r.target for r in order_srv(records, rng=lambda: 0.0)] == ["a", "b", "backup"]
    assert [r.target for r in order_srv(records, rng=lambda: 0.99)] == ["b", "a", "backup"]


def test_caller_numbers_from_a_trunk_are_normalised_by_its_country_code():
    """Seed: "Code du pays : utilisé pour la normalisation des nombres"."""
    from wpbxd.telephony.trunks.model import normalise_number

    assert normalise_number("+33145678900", "33") == "0145678900"
    assert normalise_number("+390612345", "33") == "00390612345"
    assert normalise_number("0145678900", "33") == "0145678900"
    assert normalise_number("+33145678900", "") == "0033145678900"
    assert normalise_number("+anonymous", "33") == "+anonymous"


def test_trunk_channel_limits_and_peer_state_decide_availability():
    from wpbxd.telephony.sip.stack import SipStack
    from wpbxd.telephony.trunks.model import Trunk
    from wpbxd.telephony.trunks.resolver import DnsLookup
    from wpbxd.telephony.trunks.runtime import TrunkRuntime

    runtime = TrunkRuntime(SipStack("127.0.0.1", 0), DnsLookup([("127.0.0.1", 9)]), clock=lambda: 100.0)
    runtime.configure([Trunk("gsm", "gsm", "192.0.2.1", max_calls=2), Trunk("peer", "p", "dynamic", password="x")])
    assert runtime.available("gsm") == (True, "")
    runtime.seize("gsm")
    assert runtime.available("gsm", limit=1) == (False, "at its limit of 1 simultaneous calls")   # group member
    runtime.seize("gsm")
    assert runtime.available("gsm") == (False, "at its limit of 2 simultaneous calls")             # the trunk's own
    runtime.release("gsm")
    assert runtime.available("gsm") == (True, "")
    assert runtime.available("peer") == (False, "down (the peer is not registered)")
    assert runtime.available("nosuch") == (False, "no such trunk")
