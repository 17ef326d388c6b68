"""What every page module of the web UI gets: the environment and the page helpers.

``WebEnv`` is what the web layer works with (store, bus, control, clock, ...);
``Kit`` carries the helpers ``make_app`` builds around the session (the ``page``
decorator, ``render``, ``flash``, the signed-in admin). Page modules install
their routes with ``install(app, kit)``.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bottle

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.config.users import User
from wpbxd.web import sessions, system
from wpbxd.web.features import FeatureMissing
from wpbxd.web.livelog import LiveLog
from wpbxd.web.throttle import LoginThrottle

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # table rows per page
COMMANDS_TTL = 2.0  # seconds the list of running features is reused
MAX_EVENT_STREAMS = 3  # Debug pages following the live log at once (each holds a worker thread)


@dataclass
class WebEnv:
    """What the web layer works with; built by the web service (or a test/bench)."""

    store: Store
    bus: EventBus | None
    data_dir: Path
    control: Callable[[str, dict[str, Any]], Any] | None = None
    clock: Callable[[], float] = time.time
    secure_cookies: bool = True
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    cpu: system.CpuMeter = field(default_factory=system.CpuMeter)
    livelog: LiveLog = field(default_factory=LiveLog)
    streams: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(MAX_EVENT_STREAMS))

    _cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def commands(self) -> frozenset[str]:
        """The control commands of the running services (asked at most every few seconds)."""
        if self.control is None:
            return frozenset()
        try:
            return frozenset(self.cached("help", COMMANDS_TTL))
        except Exception:
            log.exception("control 'help' failed")
            return frozenset()

    def cached(self, cmd: str, ttl: float) -> Any:
        """A read-only command's answer, reused for ``ttl`` seconds (menus ask on every page)."""
        hit = self._cache.get(cmd)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        assert self.control is not None
        value = self.control(cmd, {})
        self._cache[cmd] = (now + ttl, value)
        return value

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        if self.control is None or cmd not in self.commands():
            raise FeatureMissing(f"{cmd} is not available")
        return self.control(cmd, args or {})


@dataclass(frozen=True)
class Kit:
    env: WebEnv
    page: Callable[[Callable[..., Any]], Callable[..., Any]]  # session, CSRF and role checks
    render: Callable[..., str]  # render(template, title, section, **values)
    flash: Callable[[str], None]  # a message for the next page
    me: Callable[[], User]  # the signed-in admin
    session: Callable[[], sessions.Session]
    now: Callable[[], float]
    idle: Callable[[], float]  # session idle timeout (s)
    groups: Callable[[], list[tuple[str, str]]]  # the Settings sections that exist


def form() -> bottle.FormsDict:
    """The submitted form, decoded as UTF-8."""
    return bottle.request.forms.decode()


def query() -> bottle.FormsDict:
    return bottle.request.query.decode()
