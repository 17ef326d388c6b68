"""The CDR backend service: delivers call records from the local store to CSV and MySQL.

The SQLite ``cdr`` table (written by the call engine) is the local storage and
the queue: each enabled remote backend has a cursor (``cdr_backends.delivered``)
and receives the records after it, in id order, in batches, in an executor. A
batch that fails leaves the cursor where it was, the backend's status says why
("the server refused the user name or password") and the batch is tried again
after a back-off; so while a backend is down its records wait on local storage
and arrive in order when it returns — none lost, and none twice (the backends
ignore an id they already hold).

Control commands: ``cdrbackend.list``, ``cdrbackend.set``, ``cdrbackend.stats``,
``cdrbackend.select``.

It must not know about SIP or calls beyond the ``cdr`` rows.
"""

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from wpbxd.errors import UserError
from wpbxd.events import CallEnded, ConfigChanged
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.telephony.cdr_backends import config
from wpbxd.telephony.cdr_backends.backends import BackendError, CsvBackend, MysqlBackend

log = logging.getLogger(__name__)

POLL = 1.0                   # seconds between looks at the local queue
BATCH = 500                  # records per delivery
RETRY_BASE = 1.0             # seconds after a first failure
RETRY_MAX = 30.0             # seconds between retries at most


class _Channel:
    """One enabled remote backend and its delivery state."""

    def __init__(self, name: str, options: dict[str, Any], data_dir: Path) -> None:
        self.name = name
        self.options = options
        if name == "csv":
            self.backend: Any = CsvBackend(Path(options.get("path") or data_dir / "cdr" / "cdr.csv"))
        else:
            self.backend = MysqlBackend(**options)
        self.prepared = False
        self.status = "starting"
        self.ok = True
        self.failures = 0
        self.retry_at = 0.0
        self.delivered_total = 0
        self.log: list[str] = []

    def note(self, text: str) -> None:
        self.status = text
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.log.append(f"{stamp} {text}")
        del self.log[:-20]


class CdrBackendService:
    name = "cdr_backends"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.channels: dict[str, _Channel] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._unsubscribe: list[Any] = []
        control = ctx.control
        control.register("cdrbackend.list", self._cmd_list)
        control.register("cdrbackend.set", self._cmd_set)
        control.register("cdrbackend.select", lambda a: config.public(
            config.select_stats(self.store, ctx.bus, str(a.get("name") or ""))))
        control.register("cdrbackend.stats", self._cmd_stats)

    async def start(self) -> None:
        self._configure()
        bus = self.ctx.bus
        self._unsubscribe = [bus.subscribe(ConfigChanged, self._on_config),
                             bus.subscribe(CallEnded, lambda e: self._wake.set())]
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for channel in self.channels.values():
            await asyncio.to_thread(channel.backend.close)

    def apply(self, config_: DaemonConfig) -> None:
        self._configure()

    def describe(self) -> list[str]:
        on = [c.name for c in self.channels.values()]
        return [f"CDR backends: sqlite{''.join(', ' + n for n in on)}"] if on else []

    def status(self) -> dict[str, Any]:
        return {name: {"status": c.status, "ok": c.ok, "delivered": c.delivered_total}
                for name, c in self.channels.items()}

    def _on_config(self, event: ConfigChanged) -> None:
        if event.section in (config.SECTION, "all"):
            self._configure()
            self._wake.set()

    def _configure(self) -> None:
        wanted = {b["name"]: b for b in config.list_backends(self.store) if b["enabled"] and b["name"] != "sqlite"}
        for name in list(self.channels):
            if name not in wanted or self.channels[name].options != wanted[name]["options"]:
                channel = self.channels.pop(name)
                asyncio.get_running_loop().run_in_executor(None, channel.backend.close)
        for name, backend in wanted.items():
            if name not in self.channels:
                try:
                    self.channels[name] = _Channel(name, backend["options"], self.ctx.config.data_dir)
                except BackendError as err:
                    log.error("cdr backend %s: %s", name, err)

    # -- delivery ---------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), POLL)
            except TimeoutError:
                pass
            self._wake.clear()
            for channel in list(self.channels.values()):
                if time.monotonic() < channel.retry_at:
                    continue
                try:
                    await self._deliver(channel)
                except Exception:
                    log.exception("cdr backend %s: delivery failed", channel.name)

    async def _deliver(self, channel: _Channel) -> None:
        backend = channel.backend
        try:
            if not channel.prepared:
                note = await asyncio.to_thread(backend.prepare)
                channel.prepared = True
                channel.note(note)
                log.info("cdr backend %s: %s", channel.name, note)
            while True:
                cursor = config.get_backend(self.store, channel.name)["delivered"]
                if channel.name == "csv":
                    cursor = max(cursor, await asyncio.to_thread(backend.last_id))
                batch = config.pending(self.store, channel.name, cursor, BATCH)
                if not batch:
                    break
                await asyncio.to_thread(backend.deliver, batch)
                config.mark_delivered(self.store, channel.name, batch[-1]["id"])
                channel.delivered_total += len(batch)
                if not channel.ok or channel.failures:
                    channel.note(f"delivering again; {len(batch)} queued records sent")
                    log.info("cdr backend %s: back, %d queued records delivered", channel.name, len(batch))
                channel.ok = True
                channel.failures = 0
                if len(batch) < BATCH:
                    break
        except BackendError as err:
            channel.failures += 1
            channel.ok = False
            channel.prepared = channel.prepared and channel.name == "csv"
            channel.retry_at = time.monotonic() + min(RETRY_MAX, RETRY_BASE * 2 ** (channel.failures - 1))
            queued = self.store.one("SELECT COUNT(*) AS n FROM cdr WHERE id > ?",
                                    (config.get_backend(self.store, channel.name)["delivered"],))
            text = f"{err}; {queued['n'] if queued else 0} records queued"
            if text != channel.status:
                log.error("cdr backend %s: %s", channel.name, text)
            channel.note(text)

    # -- control commands ----------------------------------------------------------------
    def _cmd_list(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for backend in config.list_backends(self.store):
            row = config.public(backend)
            channel = self.channels.get(backend["name"])
            queued = self.store.one("SELECT COUNT(*) AS n FROM cdr WHERE id > ?", (backend["delivered"],))
            if backend["name"] == "sqlite":
                row["status"] = "local database" if backend["enabled"] else "off"
                row["queued"] = 0
            else:
                row["status"] = channel.status if channel else "off"
                row["queued"] = queued["n"] if (queued and backend["enabled"]) else 0
                row["log"] = list(channel.log) if channel else []
            out.append(row)
        return out

    def _cmd_set(self, args: dict[str, Any]) -> dict[str, Any]:
        enabled = args.get("enabled")
        return config.public(config.set_backend(self.store, self.ctx.bus, str(args.get("name") or ""),
                                                None if enabled is None else bool(enabled),
                                                args.get("options") or {}))

    async def _cmd_stats(self, args: dict[str, Any]) -> dict[str, Any]:
        chosen = next(b for b in config.list_backends(self.store) if b["stats"])
        if chosen["name"] == "sqlite":
            row = self.store.one("SELECT COUNT(*) AS calls, COALESCE(SUM(disposition = 'ANSWERED'), 0) AS answered,"
                                 " COALESCE(SUM(billsec), 0) AS billsec, COALESCE(SUM(cost), 0) AS cost FROM cdr")
            return {"backend": "sqlite", **dict(row)}
        channel = self.channels.get(chosen["name"])
        if channel is None:
            raise UserError(f"the {chosen['name']} backend is not running")
        try:
            return {"backend": chosen["name"], **await asyncio.to_thread(channel.backend.stats)}
        except BackendError as err:
            raise UserError(f"{chosen['name']}: {err}") from None
