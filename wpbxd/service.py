"""What every service gets, and what it must offer.

A service is a small object with ``async start()``, ``async stop()`` and
``apply(config)``; ``daemon.py`` builds them and is the only place that knows them
all. Services meet only through the store and the event bus, never by importing
each other.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.control import ControlServer


@dataclass(frozen=True)
class DaemonConfig:
    """The daemon's start-up options (command line over defaults)."""

    data_dir: Path
    mode: str = "host"                     # host | appliance
    sip_host: str = "0.0.0.0"
    sip_port: int = 5060
    web_host: str = "0.0.0.0"
    web_port: int = 8080
    rtp_low: int = 10000
    rtp_high: int = 20000
    console_tty: str | None = None
    console_baud: int = 19200
    extra: dict = field(default_factory=dict)

    @property
    def appliance(self) -> bool:
        return self.mode == "appliance"


@dataclass
class ServiceContext:
    config: DaemonConfig
    store: Store
    bus: EventBus
    control: ControlServer
    clock: Callable[[], float] = time.time


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def apply(self, config: DaemonConfig) -> None: ...
