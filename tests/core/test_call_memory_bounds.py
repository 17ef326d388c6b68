"""What a call leaves in the SIP transaction layer, and for how long (bench/memory.py's findings).

The daemon's resident memory after a wave of calls is the high-water mark of what
was alive at once; what is alive per call is mostly its transactions waiting for
Timers J/L (64*T1, RFC 3261 §17.2.2, RFC 6026 §7.1). These tests pin that the
tables empty once the timers pop (the structures are bounded by time), and what a
waiting INVITE server transaction still holds. Time is passed in: no sockets, no sleeps.
"""

import gc
import weakref

from wpbxd.telephony.sip.message import make_response, parse
from wpbxd.telephony.sip.transaction import T1, TransactionLayer

TARGET = ("udp", "192.0.2.9", 5060)
CALLS = 200


def _invite(n: int) -> bytes:
    return (f"INVITE sip:bob@example.com SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcall{n};rport\r\n"
            f"From: \"Alice\" <sip:alice@example.com>;tag=a{n}\r\n"
            f"To: <sip:bob@example.com>\r\n"
            f"Call-ID: call-{n}\r\n"
            f"CSeq: 1 INVITE\r\n"
            f"Contact: <sip:alice@192.0.2.1:5060>\r\n"
            f"Max-Forwards: 70\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def _bye(n: int) -> bytes:
    return (_invite(n).replace(b"INVITE sip", b"BYE sip").replace(b"1 INVITE", b"2 BYE")
            .replace(f"call{n};".encode(), f"bye{n};".encode()))


class _Answering:
    """A transaction user that answers every request with 200."""

    def __init__(self) -> None:
        self.layer: TransactionLayer | None = None
        self.now = 0.0

    def on_request(self, txn, req) -> None:
        self.layer.respond(txn, make_response(req, 200, "OK", to_tag="b"), self.now)

    def on_ack(self, req, source) -> None:
        pass

    def on_stray_response(self, resp, source) -> None:
        pass


def _answered_calls(count: int) -> tuple[TransactionLayer, _Answering]:
    tu = _Answering()
    layer = TransactionLayer(lambda data, target: None, tu)
    tu.layer = layer
    for n in range(count):
        layer.receive_request(parse(_invite(n)), TARGET, now=0.0)
        layer.receive_request(parse(_bye(n)), TARGET, now=0.0)
    return layer, tu


def _run_until(layer: TransactionLayer, until: float) -> None:
    while (t := layer.get_timer()) is not None and t <= until:
        layer.handle_timer(t)


def test_answered_calls_leave_no_transaction_once_timers_j_and_l_pop():
    """RFC 3261 §17.2.2 Timer J and RFC 6026 §7.1 Timer L: 64*T1 after the final response."""
    layer, _ = _answered_calls(CALLS)
    assert len(layer.servers) == 2 * CALLS            # INVITE (accepted) + BYE (completed) per call
    _run_until(layer, 64 * T1 - 0.001)
    assert len(layer.servers) == 2 * CALLS
    _run_until(layer, 64 * T1)
    assert not layer.servers and not layer.clients
    assert layer.get_timer() is None                  # no timer entry left behind either


def test_a_forgotten_transaction_is_freed_without_the_cyclic_collector():
    layer, _ = _answered_calls(1)
    txn = next(iter(layer.servers.values()))
    gc.disable()
    try:
        _run_until(layer, 64 * T1)
        ref = weakref.ref(txn)
        del txn
        assert ref() is None                          # reference counting alone released it
    finally:
        gc.enable()


def test_an_accepted_invite_server_transaction_keeps_only_what_retransmissions_need():
    layer, _ = _answered_calls(1)
    invite = next(t for t in layer.servers.values() if t.kind == "ist")
    assert invite.state == "accepted"
    assert invite.request is None
