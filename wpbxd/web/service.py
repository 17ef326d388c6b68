"""The web service: serves the admin UI and the API from worker threads.

A cheroot WSGI server runs in its own thread so the asyncio loop stays free;
page handlers reach other services only through the store, the service
functions and ``ControlServer.call`` (scheduled on the loop with
``run_coroutine_threadsafe``). HTTPS uses a self-signed certificate made on first
start (``tls.py``); an optional plain-HTTP listener redirects to it. Changing a
``web.https`` / ``web.http_redirect_port`` setting restarts the listeners.
"""

import asyncio
import logging
import threading
import time
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from wpbxd.config import settings, users
from wpbxd.events import CallEnded, CallStarted, CallTrace, ConfigChanged
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.web import tokens
from wpbxd.web.app import make_app, redirect_app
from wpbxd.web.kit import WebEnv
from wpbxd.web.tls import ensure_certificate

log = logging.getLogger(__name__)

WORKER_THREADS = 8
CONTROL_TIMEOUT = 5.0  # seconds a page waits for a control command
SLOW_TIMEOUT = 300.0  # seconds for commands that copy files (backup, restore, mail tests)
SLOW_COMMANDS = ("backup.", "smtp.test", "storage.")
SHUTDOWN_TIMEOUT = 2.0  # seconds
APPLIANCE_HTTP_PORT = 80
RESTART_KEYS = ("web.https", "web.http_redirect_port")


class WebService:
    name = "web"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[tuple[wsgi.Server, threading.Thread, str]] = []
        self._lock = threading.Lock()
        self.env = WebEnv(store=ctx.store, bus=ctx.bus, data_dir=ctx.config.data_dir,
                          control=self._control, clock=ctx.clock)
        self.app = make_app(self.env)
        self._unsubscribe = None
        self._call_subscriptions: list = []
        self._stopping = False
        self._listening: tuple[bool, int] | None = None  # (https, redirect port) now served

    # -- control from worker threads --
    def _control(self, cmd: str, args: dict[str, Any]) -> Any:
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("the daemon's loop is not running")
        future = asyncio.run_coroutine_threadsafe(self.ctx.control.call(cmd, args), loop)
        return future.result(SLOW_TIMEOUT if cmd.startswith(SLOW_COMMANDS) else CONTROL_TIMEOUT)

    # -- life cycle --
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, self._start_servers)
        bus = self.ctx.bus
        self._unsubscribe = bus.subscribe(ConfigChanged, self._on_config)
        self._call_subscriptions = [bus.subscribe(CallStarted, self._on_call), bus.subscribe(CallTrace, self._on_call),
                                    bus.subscribe(CallEnded, self._on_call)]
        self.ctx.control.register("web.token_create", self._token_create)

    async def stop(self) -> None:
        self._stopping = True
        if self._unsubscribe:
            self._unsubscribe()
        for unsubscribe in self._call_subscriptions:
            unsubscribe()
        self.env.livelog.close()  # ends the Debug pages' event streams
        await asyncio.get_running_loop().run_in_executor(None, self._stop_servers)

    def apply(self, config: DaemonConfig) -> None:
        self._restart_soon()

    def describe(self) -> list[str]:
        return [f"web: {what}" for _, _, what in self._servers]

    def status(self) -> dict[str, Any]:
        return {"listening": [what for _, _, what in self._servers]}

    def _on_call(self, event: CallStarted | CallTrace | CallEnded) -> None:
        """Feed the Debug page's live log (on the loop: a short lock, no I/O)."""
        if isinstance(event, CallStarted):
            kind, text = "started", f"new call {event.caller} -> {event.callee}"
        elif isinstance(event, CallTrace):
            kind, text = "trace", event.text
        else:
            kind, text = "ended", f"call ended: {event.disposition}"
        self.env.livelog.append(self.ctx.clock(), event.call_id, kind, text)

    def _on_config(self, event: ConfigChanged) -> None:
        if event.section == "settings" and event.key in RESTART_KEYS:
            self._restart_soon()

    def _restart_soon(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_in_executor(None, self._restart)

    def _wanted(self) -> tuple[bool, int]:
        cfg, store = self.ctx.config, self.ctx.store
        https = bool(settings.get(store, "web.https"))
        redirect = int(settings.get(store, "web.http_redirect_port"))
        if redirect < 0:
            redirect = APPLIANCE_HTTP_PORT if cfg.appliance else 0
        if not https or redirect == cfg.web_port:
            redirect = 0
        return https, redirect

    def _restart(self) -> None:
        with self._lock:
            if self._stopping or self._wanted() == self._listening:
                return
        self._stop_servers()
        try:
            self._start_servers()
        except OSError:
            log.exception("web: cannot listen again after a settings change")

    # -- servers --
    def _start_servers(self) -> None:
        with self._lock:
            if self._stopping:
                return
            cfg = self.ctx.config
            https, redirect = self._listening = self._wanted()
            self.env.secure_cookies = https
            server = wsgi.Server((cfg.web_host, cfg.web_port), self.app, numthreads=WORKER_THREADS,
                                 server_name="wpbx", shutdown_timeout=SHUTDOWN_TIMEOUT)
            if https:
                cert, key = ensure_certificate(cfg.data_dir, (cfg.web_host,))
                server.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
            scheme = "https" if https else "http"
            self._serve(server, f"{scheme}://{cfg.web_host}:{cfg.web_port}/")
            if redirect:
                plain = wsgi.Server((cfg.web_host, redirect), redirect_app(cfg.web_port),
                                    numthreads=2, server_name="wpbx",
                                    shutdown_timeout=SHUTDOWN_TIMEOUT)
                try:
                    self._serve(plain, f"http://{cfg.web_host}:{redirect}/ (redirects to HTTPS)")
                except OSError as err:
                    log.warning("web: cannot listen on port %d for the HTTP redirect: %s", redirect, err)

    def _serve(self, server: wsgi.Server, what: str) -> None:
        server.prepare()  # binds now, so an address in use fails the start
        thread = threading.Thread(target=server.serve, name=f"web {what}", daemon=True)
        thread.start()
        self._servers.append((server, thread, what))
        log.info("web: listening on %s", what)

    def _stop_servers(self) -> None:
        with self._lock:
            for server, thread, _ in self._servers:
                server.stop()
                thread.join(SHUTDOWN_TIMEOUT)
            self._servers.clear()
            self._listening = None

    # -- control commands --
    def _token_create(self, args: dict[str, Any]) -> dict[str, str]:
        """``web.token_create {user, name}``: an API token for an admin (shown once)."""
        user = users.get_user(self.ctx.store, str(args.get("user") or "admin"))
        if user.type != "admin":
            from wpbxd.errors import ValidationError

            raise ValidationError("API tokens are for admin users", "user")
        token = tokens.create(self.ctx.store, user.id, str(args.get("name") or "api"), time.time())
        return {"token": token, "user": user.login or str(user.id)}
