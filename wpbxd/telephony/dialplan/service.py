"""The dialplan service: keeps the compiled dialplan current and sends missed-call mail.

It compiles the dialplan at start and again whenever the configuration of the
dialplan, users or settings changes (``ConfigChanged``), keeping call-group
memory across reloads, and republishes a users or settings change as
``ConfigChanged('dialplan')`` because compiled dialplans depend on them; registers the dialplan control commands; and turns
``MissedCall`` events into mail through the SMTP profile (in an executor).

The call engine compiles its own snapshot with ``Dialplan.load``; this service
never runs calls and never touches SIP.
"""

import asyncio
import logging
import time
from typing import Any

from wpbxd.config import settings
from wpbxd.errors import UserError
from wpbxd.events import ConfigChanged, MissedCall
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.services import smtp
from wpbxd.telephony.dialplan import commands
from wpbxd.telephony.dialplan.engine import Dialplan

log = logging.getLogger(__name__)

RELOAD_SECTIONS = ("dialplan", "users", "settings", "all")
INPUT_SECTIONS = ("users", "settings")


class DialplanService:
    name = "dialplan"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.plan: Dialplan | None = None
        self.compile_ms = 0.0
        self.mails_sent = 0
        self.mail_errors = 0
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe: list[Any] = []
        commands.register(ctx.control, ctx.store, ctx.bus, lambda: self.plan)

    async def start(self) -> None:
        self.reload()
        self._unsubscribe = [self.ctx.bus.subscribe(ConfigChanged, self._on_config),
                             self.ctx.bus.subscribe(MissedCall, self._on_missed)]

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in list(self._tasks):
            task.cancel()

    def apply(self, config: DaemonConfig) -> None:
        self.reload()

    def reload(self) -> None:
        started = time.perf_counter()
        self.plan = Dialplan.load(self.ctx.store, self.plan)
        self.compile_ms = (time.perf_counter() - started) * 1000

    def _on_config(self, event: ConfigChanged) -> None:
        if event.section in RELOAD_SECTIONS:
            self.reload()
        if event.section in INPUT_SECTIONS:
            # the compiled dialplan also depends on users (ACL group, mobility,
            # preferences) and settings (prefixes, time zone): tell whoever compiles one
            self.ctx.bus.publish(ConfigChanged("dialplan", f"{event.section}:{event.key or ''}"))

    def _on_missed(self, event: MissedCall) -> None:
        task = asyncio.ensure_future(self._mail_missed(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mail_missed(self, event: MissedCall) -> None:
        store = self.ctx.store
        row = store.one("SELECT email FROM users WHERE extension = ?", (event.extension,))
        profile = smtp.get_profile(store)
        if row is None or not row["email"] or not profile.configured:
            log.warning("missed call for %s: no email address or no SMTP profile; no mail sent", event.extension)
            return
        try:
            tz = self.plan.tz if self.plan else None
            subject, body = smtp.missed_call_mail(event.extension, event.caller_number, event.caller_name,
                                                  event.time, tz)
            await smtp.send_mail_async(profile, row["email"], subject, body)
            self.mails_sent += 1
            log.info("missed call for %s: mail sent to %s", event.extension, row["email"])
        except UserError as err:
            self.mail_errors += 1
            log.error("missed call for %s: %s", event.extension, err)

    def describe(self) -> list[str]:
        return []

    def status(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "procedures": len(plan.procedures) if plan else 0,
            "entries": sum(len(p.entries) for p in plan.procedures.values()) if plan else 0,
            "compile_ms": round(self.compile_ms, 2),
            "timezone": str(plan.tz) if plan else settings.SETTINGS["pbx.timezone"].default,
            "missed_call_mails": self.mails_sent, "mail_errors": self.mail_errors,
        }
