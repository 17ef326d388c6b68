"""RFC 3261 §17 transactions: INVITE and non-INVITE, client and server.

Rule 1: every state change of a transaction lives in ``TRANSITIONS`` below, one
row per (kind, state, event) as in the RFC's figures 5-8. An event with no row
is ignored when it comes from the network (a late or duplicated message) and
raises ``TransactionError`` when it comes from the transaction user (a bug).
Rule 2: no sockets and no clocks. Time is passed in (``now``, seconds); the owner
asks ``get_timer()`` for the next deadline and calls ``handle_timer(now)``.
Bytes go out through the ``send(data, target)`` callable given to the layer.

Timers (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2, table 4): A/E/G retransmit on
unreliable transports, doubling up to T2 (E and G); B/F/H give up after 64*T1;
D/K/I/J absorb retransmissions before the transaction is forgotten (zero on
reliable transports). Timer C (a guard of 3 minutes on an INVITE stuck in
Proceeding) stands in for the TU's own give-up. The INVITE server transaction has
RFC 6026's Accepted state: after a 2xx it absorbs INVITE retransmissions for
Timer L (64*T1) instead of handing them to the TU as new requests.
"""

import heapq
import itertools
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from wpbxd.telephony.sip.message import Request, Response

T1 = 0.5      # seconds, RTT estimate (§17.1.1.1)
T2 = 4.0      # seconds, longest non-INVITE retransmit interval
T4 = 5.0      # seconds, longest time a message stays in the network
CHALLENGE_KEEP = 2 * T1   # seconds: a stateless challenge is kept 1 to 2 periods for retransmissions
TIMER_B = 64 * T1
TIMER_D_UNRELIABLE = 32.0
TIMER_C = 180.0
MAGIC_COOKIE = "z9hG4bK"

Target = tuple[str, str, int]   # (transport, host, port)

INVITE_CLIENT = "ict"
NON_INVITE_CLIENT = "nict"
INVITE_SERVER = "ist"
NON_INVITE_SERVER = "nist"


class TransactionError(RuntimeError):
    """The transaction user asked for something the state machine forbids."""


_ANY_FINAL = ("2xx", "final")
# (kind, state, event) -> (next state, actions)
TRANSITIONS: dict[tuple[str, str, str], tuple[str, tuple[str, ...]]] = {
    # Figure 5: INVITE client transaction
    (INVITE_CLIENT, "calling", "timer_A"): ("calling", ("retransmit", "start_A")),
    (INVITE_CLIENT, "calling", "timer_B"): ("terminated", ("timeout",)),
    (INVITE_CLIENT, "calling", "1xx"): ("proceeding", ("pass", "stop_A", "stop_B", "start_C")),
    (INVITE_CLIENT, "calling", "2xx"): ("terminated", ("pass",)),
    (INVITE_CLIENT, "calling", "final"): ("completed", ("pass", "send_ack", "stop_A", "stop_B", "start_D")),
    (INVITE_CLIENT, "proceeding", "1xx"): ("proceeding", ("pass",)),
    (INVITE_CLIENT, "proceeding", "2xx"): ("terminated", ("pass",)),
    (INVITE_CLIENT, "proceeding", "final"): ("completed", ("pass", "send_ack", "stop_C", "start_D")),
    (INVITE_CLIENT, "proceeding", "timer_C"): ("terminated", ("timeout",)),
    (INVITE_CLIENT, "completed", "final"): ("completed", ("send_ack",)),
    (INVITE_CLIENT, "completed", "timer_D"): ("terminated", ()),
    # Figure 6: non-INVITE client transaction
    (NON_INVITE_CLIENT, "trying", "timer_E"): ("trying", ("retransmit", "start_E")),
    (NON_INVITE_CLIENT, "trying", "timer_F"): ("terminated", ("timeout",)),
    (NON_INVITE_CLIENT, "trying", "1xx"): ("proceeding", ("pass",)),
    (NON_INVITE_CLIENT, "trying", "2xx"): ("completed", ("pass", "stop_E", "stop_F", "start_K")),
    (NON_INVITE_CLIENT, "trying", "final"): ("completed", ("pass", "stop_E", "stop_F", "start_K")),
    (NON_INVITE_CLIENT, "proceeding", "timer_E"): ("proceeding", ("retransmit", "start_E_T2")),
    (NON_INVITE_CLIENT, "proceeding", "timer_F"): ("terminated", ("timeout",)),
    (NON_INVITE_CLIENT, "proceeding", "1xx"): ("proceeding", ("pass",)),
    (NON_INVITE_CLIENT, "proceeding", "2xx"): ("completed", ("pass", "stop_E", "stop_F", "start_K")),
    (NON_INVITE_CLIENT, "proceeding", "final"): ("completed", ("pass", "stop_E", "stop_F", "start_K")),
    (NON_INVITE_CLIENT, "completed", "1xx"): ("completed", ()),
    (NON_INVITE_CLIENT, "completed", "2xx"): ("completed", ()),
    (NON_INVITE_CLIENT, "completed", "final"): ("completed", ()),
    (NON_INVITE_CLIENT, "completed", "timer_K"): ("terminated", ()),
    # Figure 7: INVITE server transaction
    (INVITE_SERVER, "proceeding", "request"): ("proceeding", ("resend_response",)),
    (INVITE_SERVER, "proceeding", "tu_1xx"): ("proceeding", ("send_response",)),
    (INVITE_SERVER, "proceeding", "tu_2xx"): ("accepted", ("send_response", "start_L")),
    # RFC 6026 §7.1 "Accepted": absorb INVITE retransmissions after a 2xx; the TU resends the 2xx.
    (INVITE_SERVER, "accepted", "request"): ("accepted", ()),
    (INVITE_SERVER, "accepted", "tu_2xx"): ("accepted", ("send_response",)),
    (INVITE_SERVER, "accepted", "timer_L"): ("terminated", ()),
    (INVITE_SERVER, "proceeding", "tu_final"): ("completed", ("send_response", "start_G", "start_H")),
    (INVITE_SERVER, "completed", "request"): ("completed", ("resend_response",)),
    (INVITE_SERVER, "completed", "timer_G"): ("completed", ("resend_response", "start_G")),
    (INVITE_SERVER, "completed", "timer_H"): ("terminated", ("timeout",)),
    (INVITE_SERVER, "completed", "ack"): ("confirmed", ("stop_G", "stop_H", "start_I")),
    (INVITE_SERVER, "confirmed", "ack"): ("confirmed", ()),
    (INVITE_SERVER, "confirmed", "request"): ("confirmed", ()),
    (INVITE_SERVER, "confirmed", "timer_I"): ("terminated", ()),
    # Figure 8: non-INVITE server transaction
    (NON_INVITE_SERVER, "trying", "request"): ("trying", ()),
    (NON_INVITE_SERVER, "trying", "tu_1xx"): ("proceeding", ("send_response",)),
    (NON_INVITE_SERVER, "trying", "tu_2xx"): ("completed", ("send_response", "start_J")),
    (NON_INVITE_SERVER, "trying", "tu_final"): ("completed", ("send_response", "start_J")),
    (NON_INVITE_SERVER, "proceeding", "request"): ("proceeding", ("resend_response",)),
    (NON_INVITE_SERVER, "proceeding", "tu_1xx"): ("proceeding", ("send_response",)),
    (NON_INVITE_SERVER, "proceeding", "tu_2xx"): ("completed", ("send_response", "start_J")),
    (NON_INVITE_SERVER, "proceeding", "tu_final"): ("completed", ("send_response", "start_J")),
    (NON_INVITE_SERVER, "completed", "request"): ("completed", ("resend_response",)),
    (NON_INVITE_SERVER, "completed", "timer_J"): ("terminated", ()),
}


def response_event(status: int, prefix: str = "") -> str:
    if status < 200:
        return prefix + "1xx"
    if status < 300:
        return prefix + "2xx"
    return prefix + "final"


class Transaction:
    __slots__ = ("kind", "key", "state", "target", "reliable", "request", "timers",
                 "interval", "last_bytes", "layer", "on_response",
                 "on_timeout", "data", "branch", "source", "__weakref__")

    def __init__(self, kind: str, key: str, request: Request, target: Target,
                 reliable: bool, layer: "TransactionLayer") -> None:
        self.kind = kind
        self.key = key
        self.state = "calling" if kind == INVITE_CLIENT else "trying" if kind == NON_INVITE_CLIENT else (
            "proceeding" if kind == INVITE_SERVER else "trying")
        self.target = target
        self.reliable = reliable
        self.request: Request | None = request
        self.timers: dict[str, float] = {}
        self.interval = T1
        self.last_bytes: bytes = b""
        self.layer = layer
        self.on_response: Callable[[Transaction, Response], None] | None = None
        self.on_timeout: Callable[[Transaction], None] | None = None
        self.data: Any = None              # free for the transaction user
        self.branch = ""
        self.source: Target = target       # where the request came from (server side)

    @property
    def is_client(self) -> bool:
        return self.kind in (INVITE_CLIENT, NON_INVITE_CLIENT)

    def __repr__(self) -> str:
        return f"<Transaction {self.kind} {self.state} {self.key}>"


class TransactionUser(Protocol):
    def on_request(self, txn: Transaction, req: Request) -> None: ...
    def on_ack(self, req: Request, source: Target) -> None: ...
    def on_stray_response(self, resp: Response, source: Target) -> None: ...


def server_key(req: Request, method: str | None = None) -> str:
    """The key matching a request to its server transaction (§17.2.3)."""
    via = req.top_via
    branch = via.params.get("branch") or ""
    method = method or req.method
    if method == "ACK":
        method = "INVITE"
    if branch.startswith(MAGIC_COOKIE):
        return f"{branch}|{via.host}:{via.port or ''}|{method}"
    # RFC 2543 compatibility: no usable branch
    return (f"2543|{req.call_id}|{req.from_tag}|{req.cseq[0]}|{req.headers['via'][0]}|"
            f"{method}|{req.uri}")


class TransactionLayer:
    def __init__(self, send: Callable[[bytes, Target], None], tu: TransactionUser) -> None:
        self.send = send
        self.tu = tu
        self.clients: dict[str, Transaction] = {}
        self.servers: dict[str, Transaction] = {}
        # Weak references: a finished transaction is freed at once, not when its last timer pops.
        self._heap: list[tuple[float, int, weakref.ref, str]] = []
        self._seq = itertools.count()
        # Stateless challenges (§8.2.7) sent in the current and the previous period of
        # CHALLENGE_KEEP seconds: key -> bytes. A retransmission that was already queued
        # when the challenge left gets the same bytes (strict UACs such as sipp reject a
        # second, different challenge); one sent later means the client lost ours, and a
        # fresh challenge serves it as well. Two generations, no per-entry clock: far
        # lighter than a transaction kept 64*T1.
        self._challenges: dict[str, bytes] = {}
        self._older_challenges: dict[str, bytes] = {}
        self._challenges_since = 0.0

    # -- timers -----------------------------------------------------------------
    def get_timer(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, _, ref, name = heap[0]
            txn = ref()
            if txn is not None and txn.timers.get(name) == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def _age_challenges(self, now: float) -> None:
        elapsed = now - self._challenges_since
        if elapsed >= CHALLENGE_KEEP:
            self._older_challenges = self._challenges if elapsed < 2 * CHALLENGE_KEEP else {}
            self._challenges = {}
            self._challenges_since = now

    def handle_timer(self, now: float) -> None:
        if self._challenges or self._older_challenges:
            self._age_challenges(now)
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, ref, name = heapq.heappop(heap)
            txn = ref()
            if txn is None or txn.timers.get(name) != deadline:
                continue
            del txn.timers[name]
            self._event(txn, "timer_" + name, None, now)

    def _start(self, txn: Transaction, name: str, delay: float, now: float) -> None:
        deadline = now + delay
        txn.timers[name] = deadline
        heapq.heappush(self._heap, (deadline, next(self._seq), weakref.ref(txn), name))

    # -- the state machine ------------------------------------------------------
    def _event(self, txn: Transaction, event: str, msg: Any, now: float, from_tu: bool = False) -> None:
        row = TRANSITIONS.get((txn.kind, txn.state, event))
        if row is None:
            if from_tu:
                raise TransactionError(f"{event} not allowed in {txn.kind} state {txn.state}")
            return
        state, actions = row
        txn.state = state
        notify_timeout = False
        deliver = None
        for action in actions:
            if action == "pass":
                deliver = msg
            elif action == "retransmit":
                self.send(txn.last_bytes, txn.target)
            elif action == "send_ack":
                self.send(self._ack_for(txn, msg).to_bytes(), txn.target)
            elif action == "send_response":
                txn.last_bytes = msg.to_bytes()
                self.send(txn.last_bytes, txn.target)
            elif action == "resend_response":
                if txn.last_bytes:
                    self.send(txn.last_bytes, txn.target)
            elif action == "timeout":
                notify_timeout = True
            elif action.startswith("stop_"):
                txn.timers.pop(action[5:], None)
            else:
                self._start_action(txn, action[6:], now)
        if deliver is not None:
            if txn.on_response is not None:
                txn.on_response(txn, deliver)
        if notify_timeout and txn.on_timeout is not None:
            txn.on_timeout(txn)
        if txn.state == "terminated":
            self._forget(txn)
        elif txn.state in ("completed", "confirmed", "accepted"):
            # Only retransmissions are left to absorb: keep the bytes, free the rest.
            if txn.kind != INVITE_SERVER or txn.state != "completed":
                txn.on_response = None
                txn.on_timeout = None
                txn.data = None
            absorbing = txn.kind == INVITE_SERVER and txn.state != "completed"   # accepted/confirmed
            if txn.kind in (NON_INVITE_SERVER, NON_INVITE_CLIENT) or absorbing:
                txn.request = None        # no transition of these states reads the request
            if txn.kind == NON_INVITE_CLIENT or absorbing:
                txn.last_bytes = b""      # nothing is resent from here: the TU resends its own 2xx

    def _start_action(self, txn: Transaction, name: str, now: float) -> None:
        reliable = txn.reliable
        if name == "A":
            if not reliable:
                delay = txn.interval
                txn.interval = delay * 2
                self._start(txn, "A", delay, now)
        elif name == "E":
            if not reliable:
                delay = txn.interval
                txn.interval = min(delay * 2, T2)
                self._start(txn, "E", delay, now)
        elif name == "E_T2":
            if not reliable:
                self._start(txn, "E", T2, now)
        elif name == "G":
            if not reliable:
                delay = txn.interval
                txn.interval = min(delay * 2, T2)
                self._start(txn, "G", delay, now)
        elif name in ("B", "F", "H", "L"):
            self._start(txn, name, 64 * T1, now)
        elif name == "C":
            self._start(txn, "C", TIMER_C, now)
        elif name == "D":
            self._start(txn, "D", 0.0 if reliable else TIMER_D_UNRELIABLE, now)
        elif name in ("K", "I"):
            self._start(txn, name, 0.0 if reliable else T4, now)
        elif name == "J":
            self._start(txn, "J", 0.0 if reliable else 64 * T1, now)

    def _forget(self, txn: Transaction) -> None:
        txn.timers.clear()
        table = self.clients if txn.is_client else self.servers
        if table.get(txn.key) is txn:
            del table[txn.key]

    @staticmethod
    def _ack_for(txn: Transaction, resp: Response) -> Request:
        """The ACK for a non-2xx final response (§17.1.1.3)."""
        req = txn.request
        headers: dict[str, list[str]] = {"via": [req.headers["via"][0]]}
        for name in ("max-forwards",):
            if name in req.headers:
                headers[name] = list(req.headers[name])
        headers["from"] = list(req.headers["from"])
        headers["to"] = list(resp.headers.get("to") or req.headers["to"])
        headers["call-id"] = list(req.headers["call-id"])
        headers["cseq"] = [f"{req.cseq[0]} ACK"]
        if "route" in req.headers:
            headers["route"] = list(req.headers["route"])
        return Request("ACK", req.uri, headers)

    # -- client side ------------------------------------------------------------
    def send_request(self, req: Request, target: Target, now: float,
                     reliable: bool = False) -> Transaction:
        """Start a client transaction for ``req`` (which carries its own Via branch)."""
        kind = INVITE_CLIENT if req.method == "INVITE" else NON_INVITE_CLIENT
        branch = req.top_via.params.get("branch") or ""
        key = f"{branch}|{req.method}"
        txn = Transaction(kind, key, req, target, reliable, self)
        txn.branch = branch
        txn.last_bytes = req.to_bytes()
        self.clients[key] = txn
        self.send(txn.last_bytes, target)
        if kind == INVITE_CLIENT:
            self._start_action(txn, "A", now)
            self._start(txn, "B", TIMER_B, now)
        else:
            self._start_action(txn, "E", now)
            self._start(txn, "F", 64 * T1, now)
        return txn

    def receive_response(self, resp: Response, source: Target, now: float) -> None:
        try:
            branch = resp.top_via.params.get("branch") or ""
        except ValueError:
            return
        method = resp.cseq[1]
        if method == "ACK":
            return
        txn = self.clients.get(f"{branch}|{method}")
        if txn is None:
            self.tu.on_stray_response(resp, source)
            return
        self._event(txn, response_event(resp.status), resp, now)

    # -- server side ------------------------------------------------------------
    def receive_request(self, req: Request, source: Target, now: float,
                        reliable: bool = False, origin: Target | None = None) -> None:
        """``source`` is where responses go (§18.2.2); ``origin`` the packet's real source."""
        key = server_key(req)
        txn = self.servers.get(key)
        if self._challenges or self._older_challenges:
            self._age_challenges(now)
            sent = self._challenges.get(key) or self._older_challenges.get(key)
            if sent is not None and txn is None:
                self.send(sent, source)
                return
        if req.method == "ACK":
            if txn is not None and txn.kind == INVITE_SERVER and txn.state in ("completed", "confirmed"):
                self._event(txn, "ack", req, now)
            else:
                self.tu.on_ack(req, origin or source)
            return
        if txn is not None:
            self._event(txn, "request", req, now)
            return
        kind = INVITE_SERVER if req.method == "INVITE" else NON_INVITE_SERVER
        txn = Transaction(kind, key, req, source, reliable, self)
        txn.branch = req.top_via.params.get("branch") or ""
        if origin is not None:
            txn.source = origin
        self.servers[key] = txn
        self.tu.on_request(txn, req)

    def respond(self, txn: Transaction, resp: Response, now: float) -> None:
        """Send the transaction user's response through the server transaction."""
        req = txn.request
        if (txn.kind == NON_INVITE_SERVER and resp.status in (401, 407) and txn.state == "trying"
                and req is not None and "authorization" not in req.headers
                and "proxy-authorization" not in req.headers):
            # §8.2.7: the challenge to a request without credentials is sent statelessly:
            # no transaction (request, timers) is kept for 32 s per REGISTER, only the
            # bytes, for one to two CHALLENGE_KEEP periods, to answer retransmissions.
            data = resp.to_bytes()
            self.send(data, txn.target)
            self._age_challenges(now)
            self._challenges[txn.key] = data
            txn.state = "terminated"
            txn.request = None
            self._forget(txn)
            return
        if txn.kind == INVITE_SERVER and resp.status >= 200:
            txn.interval = T1
        self._event(txn, response_event(resp.status, "tu_"), resp, now, from_tu=True)

    def find_server(self, req: Request, method: str) -> Transaction | None:
        """The server transaction ``req`` (a CANCEL) refers to (§9.2)."""
        try:
            return self.servers.get(server_key(req, method))
        except ValueError:
            return None
