"""The SIP endpoint: transports + inbound checks + the transaction layer, on the loop.

Responsible for: dropping packets from banned addresses, triaging inbound bytes
(``message.triage``: error responses for malformed requests, drops for the rest),
RFC 3581 ``received``/``rport`` on inbound Vias, feeding the transaction layer,
arming one loop timer for the layer's next deadline, and dispatching new requests
to the handler registered for their method. It makes Via branches, tags and
Call-IDs for the transaction users (registrar, B2BUA).

It must not decide anything about calls or registrations.
"""

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from wpbxd.telephony.sip.message import Request, Response, make_response, triage
from wpbxd.telephony.sip.transaction import MAGIC_COOKIE, Target, Transaction, TransactionLayer
from wpbxd.telephony.sip.transport import TcpTransport, UdpTransport
from wpbxd.telephony.sip.uri import SipSyntaxError, parse_uri

log = logging.getLogger(__name__)

RequestHandler = Callable[[Transaction, Request], None]


def random_token(nbytes: int = 8) -> str:
    return os.urandom(nbytes).hex()


class SipStack:
    def __init__(self, host: str, port: int, is_banned: Callable[[str], bool] | None = None,
                 user_agent: str = "wpbx") -> None:
        self.host = host
        self.port = port
        self.user_agent = user_agent
        self.is_banned = is_banned or (lambda address: False)
        self.udp = UdpTransport(host, port, self._on_message)
        self.tcp = TcpTransport(host, port, self._on_message)
        self.transports: dict[str, Any] = {"udp": self.udp, "tcp": self.tcp}
        self.layer = TransactionLayer(self._send, self)
        self.handlers: dict[str, RequestHandler] = {}
        self.on_ack_handler: Callable[[Request, Target], None] = lambda req, source: None
        self.on_stray_handler: Callable[[Response, Target], None] = lambda resp, source: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._local_for: dict[str, str] = {}
        self.dropped = 0
        self.rejected = 0

    # -- life ---------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.udp.start()
        self.tcp.port = self.udp.port
        self.port = self.udp.port
        await self.tcp.start()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.udp.close()
        await self.tcp.close()

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    # -- addresses and names --------------------------------------------------------
    def local_host(self, remote_host: str = "127.0.0.1") -> str:
        """The address the peer should reach us at (the bound one, or the route's source)."""
        if self.host not in ("0.0.0.0", "::", ""):
            return self.host
        found = self._local_for.get(remote_host)
        if found is None:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.connect((remote_host, 9))
                    found = probe.getsockname()[0]
            except OSError:
                found = "127.0.0.1"
            self._local_for[remote_host] = found
        return found

    def via(self, target: Target) -> str:
        host = self.local_host(target[1])
        return f"SIP/2.0/{target[0].upper()} {host}:{self.port};branch={MAGIC_COOKIE}{random_token()};rport"

    def contact(self, target: Target, user: str = "wpbx") -> str:
        host = self.local_host(target[1])
        transport = "" if target[0] == "udp" else f";transport={target[0]}"
        return f"<sip:{user}@{host}:{self.port}{transport}>"

    def route_to(self, flow: Target, uri_text: str) -> Target:
        """Where to send to a registered contact: its registration flow (RFC 3581 / NAT)
        while that flow exists, else the Contact URI's own address."""
        if flow[0] == "udp" or (flow[1], flow[2]) in self.tcp.connections:
            return flow
        try:
            uri = parse_uri(uri_text)
        except SipSyntaxError:
            return flow
        transport = (uri.params.get("transport") or "udp").lower()
        if transport not in self.transports or not uri.host:
            return flow
        return (transport, uri.host.strip("[]"), uri.port or 5060)

    # -- sending --------------------------------------------------------------------
    def _send(self, data: bytes, target: Target) -> None:
        transport = self.transports.get(target[0])
        if transport is None:
            log.warning("no %s transport to reach %s:%s", target[0], target[1], target[2])
            return
        transport.send(data, target)
        self._arm()

    def send_raw(self, data: bytes, target: Target) -> None:
        self._send(data, target)

    def send_request(self, req: Request, target: Target) -> Transaction:
        txn = self.layer.send_request(req, target, self.now(), reliable=target[0] != "udp")
        self._arm()
        return txn

    def respond(self, txn: Transaction, resp: Response) -> None:
        if self.user_agent and "server" not in resp.headers:
            resp.headers["server"] = [self.user_agent]
        self.layer.respond(txn, resp, self.now())
        self._arm()

    def reply(self, txn: Transaction, status: int, reason: str, to_tag: str | None = None,
              extra: list[tuple[str, str]] | None = None, body: bytes = b"") -> Response:
        resp = make_response(txn.request, status, reason, to_tag or (random_token(4) if status > 100 else None),
                             extra or (), body)
        self.respond(txn, resp)
        return resp

    # -- timers -----------------------------------------------------------------------
    def _arm(self) -> None:
        deadline = self.layer.get_timer()
        if deadline is None:
            return
        if self._timer_at is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        assert self._loop is not None
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        try:
            self.layer.handle_timer(self.now())
        except Exception:
            log.exception("SIP transaction timer failed")
        self._arm()

    # -- receiving --------------------------------------------------------------------
    def _on_message(self, data: bytes, source: Target, reliable: bool) -> None:
        host = source[1]
        if self.is_banned(host):
            self.dropped += 1
            return
        if len(data) <= 4 and not data.strip():
            return          # keep-alive (RFC 5626 CRLF)
        result = triage(data, stream=reliable)
        msg = result.message
        if msg is None:
            if result.reply is not None:
                self.rejected += 1
                log.info("SIP from %s:%s refused: %d %s", host, source[2], result.reply.status, result.reply.reason)
                self._send(result.reply.to_bytes(), source)
            else:
                self.dropped += 1
                log.info("SIP from %s:%s dropped: %s", host, source[2], result.reason)
            return
        now = self.now()
        if isinstance(msg, Response):
            self.layer.receive_response(msg, source, now)
        else:
            target = self._mark_via(msg, source)
            self.layer.receive_request(msg, target, now, reliable, source)
        self._arm()

    @staticmethod
    def _mark_via(req: Request, source: Target) -> Target:
        """RFC 3261 §18.2.1 ``received`` and RFC 3581 ``rport``; returns where responses go."""
        vias = req.headers["via"]
        top = vias[0]
        via = req.top_via
        has_rport = "rport" in via.params
        if has_rport or via.host != source[1]:
            text = top
            if has_rport and via.params["rport"] is None:
                idx = text.find(";rport")
                end = idx + 6
                if end == len(text) or text[end] == ";":
                    text = text[:end] + f"={source[2]}" + text[end:]
            if "received" not in via.params:
                text += f";received={source[1]}"
            vias[0] = text
            req._via = None
        if source[0] != "udp" or has_rport:
            return source
        return (source[0], source[1], via.port or 5060)

    # -- TransactionUser ----------------------------------------------------------------
    def on_request(self, txn: Transaction, req: Request) -> None:
        handler = self.handlers.get(req.method)
        if handler is None:
            allow = ", ".join(sorted(self.handlers))
            self.reply(txn, 501 if req.method not in KNOWN_METHODS else 405,
                       "Not Implemented" if req.method not in KNOWN_METHODS else "Method Not Allowed",
                       extra=[("allow", allow)])
            return
        handler(txn, req)

    def on_ack(self, req: Request, source: Target) -> None:
        self.on_ack_handler(req, source)

    def on_stray_response(self, resp: Response, source: Target) -> None:
        self.on_stray_handler(resp, source)


KNOWN_METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK",
                           "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"})
