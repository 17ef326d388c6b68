"""The trunk part of the SIP service, in one object the service holds.

Responsible for: building the ``TrunkRuntime`` on the service's SIP stack (DNS
from the ``trunks.dns_servers`` setting), the trunk-aware call engine, answering
REGISTER from the peer of a ``dynamic`` trunk (a failed authentication counts
toward the ban rules like a user's), following ``ConfigChanged('trunks')``, and
the ``trunks.status`` control command.

It holds no protocol logic: that is in ``runtime``, ``registration`` and ``calls``.
"""

import logging
import time
from typing import Any

from wpbxd.config import settings
from wpbxd.events import ConfigChanged, TrunkStatusChanged
from wpbxd.service import ServiceContext
from wpbxd.telephony.authentication import Authenticator
from wpbxd.telephony.sip.message import Request
from wpbxd.telephony.sip.stack import SipStack
from wpbxd.telephony.sip.transaction import Transaction
from wpbxd.telephony.trunks import model
from wpbxd.telephony.trunks.calls import TrunkB2bua
from wpbxd.telephony.trunks.resolver import DnsLookup, parse_servers
from wpbxd.telephony.trunks.runtime import TrunkRuntime

log = logging.getLogger(__name__)


class TrunkSide:
    def __init__(self, ctx: ServiceContext, stack: SipStack, auth: Authenticator) -> None:
        self.ctx = ctx
        self.stack = stack
        self.auth = auth
        values = settings.get_all(ctx.store)
        servers = parse_servers(values["trunks.dns_servers"])
        self.runtime = TrunkRuntime(stack, DnsLookup(servers or None), realm=values["sip.realm"],
                                    on_change=self._changed)
        self.runtime.configure(model.list_trunks(ctx.store))
        self.engine: TrunkB2bua | None = None
        ctx.control.register("trunks.status", lambda args: self.runtime.status())

    def _changed(self, name: str) -> None:
        """Publish the trunk's new status (``TrunkStatusChanged``) for live views."""
        for row in self.runtime.status():
            if row["name"] == name:
                detail = row["registered_to"] or row["registered_from"] or row["last_error"]
                self.ctx.bus.publish(TrunkStatusChanged(name, row["status"], detail))
                return

    def start(self) -> None:
        self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()

    def call_engine(self, *args: Any, **kwargs: Any) -> TrunkB2bua:
        """The B2BUA with trunks (same arguments as ``B2bua``)."""
        self.engine = TrunkB2bua(*args, trunks=self.runtime, store=self.ctx.store, **kwargs)
        return self.engine

    def on_config(self, event: ConfigChanged) -> None:
        if event.section in (model.SECTION, "all"):
            self.runtime.configure(model.list_trunks(self.ctx.store))
            if self.engine is not None:
                self.engine.forget_prices()

    def on_register(self, txn: Transaction, req: Request) -> bool:
        """Answer the REGISTER when it is a dynamic trunk's peer's; False when it is not."""
        state = self.runtime.peer_trunk(req)
        if state is None:
            return False
        resp, failed = self.runtime.handle_peer_register(state, req, txn.source)
        if failed:
            host = txn.source[1]
            self.auth.failures += 1
            ban = self.auth.bans.record_failure(host, time.time(), f"trunk {state.trunk.name}: bad credentials")
            if ban is not None:
                log.warning("SIP: banning %s until %.0f: %s", host, ban.until, ban.reason)
                self.auth.on_ban(ban)
        self.stack.respond(txn, resp)
        return True
