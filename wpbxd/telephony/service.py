"""The SIP service: wires the SIP stack, registrar, bans, call engine, RTP relay and CDR.

Responsible for: reading the ``sip.*`` settings, starting and stopping the
pieces in order, a one-second housekeeping tick (expire registrations, write
dirty registrations and queued CDRs, forget expired nonces and bans), reacting
to ``ConfigChanged`` (users, bans, settings, dialplan), and the control commands
``registrations.list``, ``calls.list``, ``calls.follow``, ``bans.list``,
``bans.unban`` and ``cdr.list``.

It holds no protocol logic of its own.
"""

import asyncio
import ipaddress
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from wpbxd.config import settings
from wpbxd.errors import NotFound, ValidationError
from wpbxd.events import CallEnded, CallStarted, CallTrace, ConfigChanged, RegistrationChanged
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.telephony import bans as ban_store
from wpbxd.telephony.authentication import Authenticator, UserDirectory
from wpbxd.telephony.b2bua import B2bua
from wpbxd.telephony.bans import Ban, BanList, BanPolicy
from wpbxd.telephony.cdr import CdrWriter, list_cdr
from wpbxd.telephony.dialplan.engine import Dialplan
from wpbxd.telephony.media import relay as rtp_relay
from wpbxd.telephony.media.services import PbxMediaServices
from wpbxd.telephony.originate import originate_command, record_command
from wpbxd.telephony.registrar import Registrar, RegistrarPolicy, write_rows
from wpbxd.telephony.sip.digest import DigestAuthenticator
from wpbxd.telephony.sip.message import Request, make_response
from wpbxd.telephony.sip.stack import SipStack
from wpbxd.telephony.sip.transaction import Transaction
from wpbxd.telephony.trunks.sip_side import TrunkSide

log = logging.getLogger(__name__)

TICK = 1.0                 # seconds between housekeeping runs
NONCE_PRUNE_EVERY = 30     # ticks
FOLLOW_QUEUE = 1000        # events buffered per ``calls.follow`` client
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, MESSAGE, NOTIFY, REFER, PRACK"


class SipService:
    name = "sip"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.stack: SipStack | None = None
        self.relay: rtp_relay.RtpRelay | None = None
        self.b2bua: B2bua | None = None
        self.trunk_side: TrunkSide | None = None
        self._tick_task: asyncio.Task | None = None
        self._writing: asyncio.Future | None = None
        self._unsubscribe: list = []
        self.directory = UserDirectory(self.store)
        values = settings.get_all(self.store)
        self.bans = BanList(self._ban_policy(values))
        self.registrar = Registrar(self._registrar_policy(values))
        self.digest = DigestAuthenticator(values["sip.realm"], self._algorithms(values))
        self.auth = Authenticator(self.directory, self.digest, self.bans, self._on_ban, time.time)
        self.cdr = CdrWriter(self.store)
        self.dialplan = Dialplan.load(self.store)
        self.ring_timeout = float(values["sip.ring_timeout"])

    # -- settings ---------------------------------------------------------------------
    @staticmethod
    def _ban_policy(values: dict[str, Any]) -> BanPolicy:
        return BanPolicy(int(values["sip.ban.max_failures"]), float(values["sip.ban.window"]),
                         float(values["sip.ban.duration"]))

    @staticmethod
    def _registrar_policy(values: dict[str, Any]) -> RegistrarPolicy:
        return RegistrarPolicy(int(values["sip.register.min_expires"]), int(values["sip.register.max_expires"]),
                               int(values["sip.register.default_expires"]))

    @staticmethod
    def _algorithms(values: dict[str, Any]) -> tuple[str, ...]:
        return tuple(a.strip().upper() for a in str(values["sip.digest_algorithms"]).split(",") if a.strip())

    def _reload_settings(self) -> None:
        values = settings.get_all(self.store)
        self.bans.policy = self._ban_policy(values)
        self.registrar.policy = self._registrar_policy(values)
        self.digest.realm = values["sip.realm"]
        self.digest.algorithms = self._algorithms(values)
        self.ring_timeout = float(values["sip.ring_timeout"])

    # -- life ---------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.ctx.config
        now = time.time()
        self.bans.replace(ban_store.load_bans(self.store, now))
        loaded = self.registrar.load(self.store, now)
        if loaded:
            log.info("sip: %d registrations restored", loaded)
        stack = SipStack(cfg.sip_host, cfg.sip_port, is_banned=self._is_banned)
        await stack.start()
        self.stack = stack
        relay_host = cfg.sip_host if cfg.sip_host not in ("", "::") else "0.0.0.0"
        self.relay = rtp_relay.RtpRelay(rtp_relay.PortAllocator(cfg.rtp_low, cfg.rtp_high), relay_host)
        stack.handlers["OPTIONS"] = self._on_options
        # Trunks (their own package) extend the call engine and answer their peers' REGISTERs.
        side = TrunkSide(self.ctx, stack, self.auth)
        self.trunk_side = side
        self.b2bua = side.call_engine(stack, self.registrar, self.auth, self.directory, self.relay, self.cdr,
                                      self.ctx.bus, lambda: self.dialplan, lambda: self.ring_timeout,
                                      media_services=PbxMediaServices(self.store, self.ctx.bus, cfg.data_dir))
        stack.handlers["REGISTER"] = lambda txn, req: side.on_register(txn, req) or self._on_register(txn, req)
        bus = self.ctx.bus
        self._unsubscribe.append(bus.subscribe(ConfigChanged, self._on_config))
        self._unsubscribe.append(bus.subscribe(ConfigChanged, side.on_config))
        side.start()
        control = self.ctx.control
        control.register("registrations.list", self._cmd_registrations)
        control.register("calls.list", lambda args: self.b2bua.describe_calls() if self.b2bua else [])
        control.register("bans.list", self._cmd_bans)
        control.register("bans.unban", self._cmd_unban)
        control.register("cdr.list", lambda args: list_cdr(self.store, int(args.get("limit") or 50)))
        control.register_stream("calls.follow", self._follow)
        control.register("calls.originate", originate_command(lambda: self.b2bua))
        control.register("sounds.record", record_command(lambda: self.b2bua))
        self._tick_task = asyncio.get_running_loop().create_task(self._ticker())

    async def stop(self) -> None:
        if self.b2bua is not None:
            self.b2bua.stop()
        if self.trunk_side is not None:
            await self.trunk_side.stop()
        if self._tick_task is not None:
            self._tick_task.cancel()
        if self._writing is not None and not self._writing.done():
            await self._writing
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._housekeeping(final=True)
        if self.stack is not None:
            await asyncio.sleep(0)     # let the BYEs leave
            await self.stack.stop()
        if self.relay is not None:
            self.relay.close()

    def apply(self, config: DaemonConfig) -> None:
        self._reload_settings()
        self.dialplan = Dialplan.load(self.store)
        self.directory.invalidate()

    def describe(self) -> list[str]:
        cfg = self.ctx.config
        port = self.stack.port if self.stack else cfg.sip_port
        return [f"SIP: udp+tcp {cfg.sip_host}:{port}, RTP ports {cfg.rtp_low}-{cfg.rtp_high}"]

    def status(self) -> dict[str, Any]:
        stack = self.stack
        return {
            "registrations": self.registrar.count(),
            "calls": len(self.b2bua.calls) if self.b2bua else 0,
            "calls_completed": self.b2bua.completed if self.b2bua else 0,
            "bans": len(self.bans.active(time.time())),
            "dropped": stack.dropped if stack else 0,
            "rejected": stack.rejected if stack else 0,
            "auth_failures": self.auth.failures,
            "transactions": (len(stack.layer.clients) + len(stack.layer.servers)) if stack else 0,
        }

    # -- housekeeping ---------------------------------------------------------------------
    async def _ticker(self) -> None:
        count = 0
        while True:
            await asyncio.sleep(TICK)
            count += 1
            try:
                self._expire(prune=count % NONCE_PRUNE_EVERY == 0)
                # The writes go to a worker thread: a slow fsync must not stall SIP.
                aors, rows = self.registrar.take_dirty()
                records = self.cdr.take()
                if aors or records:
                    loop = asyncio.get_running_loop()
                    self._writing = loop.run_in_executor(None, self._write, aors, rows, records)
                    await asyncio.shield(self._writing)
            except Exception:
                log.exception("sip housekeeping failed")

    def _write(self, aors: list[str], rows: list[tuple], records: list) -> None:
        write_rows(self.store, aors, rows)
        self.cdr.write(records)

    def _expire(self, prune: bool) -> None:
        now = time.time()
        for aor in self.registrar.expire(now):
            self.ctx.bus.publish(RegistrationChanged(aor, tuple(b.contact for b in self.registrar.contacts(aor, now))))
        if prune:
            self.digest.prune(now)
            self.bans.prune(now)

    def _housekeeping(self, prune: bool = False, final: bool = False) -> None:
        self._expire(prune or final)
        self.registrar.flush(self.store)
        self.cdr.flush()

    def _on_config(self, event: ConfigChanged) -> None:
        section = event.section
        if section in ("users", "all"):
            self.directory.invalidate()
        if section in ("bans", "all"):
            self.bans.replace(ban_store.load_bans(self.store, time.time()))
        if section in ("settings", "all") and (event.key is None or event.key.startswith("sip.")):
            self._reload_settings()
        if section in ("dialplan", "procedures", "all"):
            self.dialplan = Dialplan.load(self.store)

    # -- bans ----------------------------------------------------------------------------
    def _is_banned(self, host: str) -> bool:
        bans = self.bans.bans
        return bool(bans) and host in bans and self.bans.is_banned(host, time.time())

    def _on_ban(self, ban: Ban) -> None:
        ban_store.save_ban(self.store, ban)

    def _cmd_bans(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        now = time.time()
        return [{"address": b.address, "banned_at": b.banned_at, "until": b.until,
                 "remaining": max(0, round(b.until - now)), "reason": b.reason, "failures": b.failures}
                for b in self.bans.active(now)]

    def _cmd_unban(self, args: dict[str, Any]) -> str:
        address = str(args.get("address") or "").strip()
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValidationError(f"{address!r} is not an IP address", "address") from None
        in_store = ban_store.delete_ban(self.store, address)
        in_memory = self.bans.unban(address)
        if not (in_store or in_memory):
            raise NotFound(f"{address} is not banned")
        log.info("sip: %s unbanned", address)
        return f"{address} unbanned"

    # -- REGISTER and OPTIONS --------------------------------------------------------------
    def _on_register(self, txn: Transaction, req: Request) -> None:
        stack = self.stack
        assert stack is not None
        user, problem = self.auth.check(req, txn.source[1])
        if problem is not None:
            stack.respond(txn, problem)
            return
        assert user is not None
        to_user = req.address("to").uri.user
        if to_user not in (user.extension, user.login):
            stack.respond(txn, make_response(req, 403, "Forbidden (you may only register your own extension)"))
            return
        now = time.time()
        before = len(self.registrar.bindings.get(user.extension, ()))
        resp = self.registrar.handle_register(req, user.extension, txn.source, now)
        stack.respond(txn, resp)
        if resp.status == 200 and before != len(self.registrar.bindings.get(user.extension, ())):
            self.ctx.bus.publish(RegistrationChanged(
                user.extension, tuple(b.contact for b in self.registrar.contacts(user.extension, now))))

    def _on_options(self, txn: Transaction, req: Request) -> None:
        assert self.stack is not None
        if req.to_tag and self.b2bua is not None and (req.call_id, req.to_tag) in self.b2bua.dialogs:
            self.stack.reply(txn, 200, "OK", to_tag=req.to_tag, extra=[("allow", ALLOW)])
            return
        self.stack.reply(txn, 200, "OK", extra=[("allow", ALLOW), ("accept", "application/sdp"),
                                                ("supported", "path, replaces, timer")])

    # -- control commands ------------------------------------------------------------------
    def _cmd_registrations(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        for aor in sorted(self.registrar.bindings):
            out.extend(b.as_dict(now) for b in self.registrar.contacts(aor, now))
        return out

    async def _follow(self, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue = asyncio.Queue(FOLLOW_QUEUE)

        def push(kind: str):
            def deliver(event: Any) -> None:
                if queue.full():
                    return
                item = {"type": kind, "call_id": event.call_id}
                if isinstance(event, CallTrace):
                    item["text"] = event.text
                elif isinstance(event, CallStarted):
                    item["text"] = f"new call {event.caller} -> {event.callee}"
                elif isinstance(event, CallEnded):
                    item["text"] = f"call ended: {event.disposition}"
                item["time"] = time.time()
                queue.put_nowait(item)
            return deliver

        bus = self.ctx.bus
        subs = [bus.subscribe(CallTrace, push("trace")), bus.subscribe(CallStarted, push("started")),
                bus.subscribe(CallEnded, push("ended"))]
        try:
            yield {"type": "hello", "text": f"following calls ({len(self.b2bua.calls) if self.b2bua else 0} active)",
                   "call_id": "", "time": time.time()}
            while True:
                yield await queue.get()
        finally:
            for unsubscribe in subs:
                unsubscribe()
