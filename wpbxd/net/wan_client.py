"""The WAN DHCP client: pyroute2's ``AsyncDHCPClient`` on the WAN device (eth0 or wbr0).

Responsible for: running pyroute2's client (which renews at T1 and rebinds at T2
itself), keeping its lease file in wpbxd's data directory (never the working
directory), and reporting each lease change as a ``WanLease`` (or ``None`` when
the lease is gone) to the owner, which reconciles addresses, routes and DNS.

It must not: configure addresses or routes itself (pyroute2's own hooks that do
are not used), handle signals (the daemon owns SIGHUP), or write /etc/resolv.conf.
"""

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyroute2.dhcp.client import AsyncDHCPClient, ClientConfig
from pyroute2.dhcp.fsm import State
from pyroute2.dhcp.hooks import Hook, Trigger
from pyroute2.dhcp.leases import JSONFileLease, Lease, MissingOptionError

from wpbxd.net.reconcile import WanLease

log = logging.getLogger(__name__)

VENDOR_ID = "wpbx"


def _lease_class(directory: Path) -> type[JSONFileLease]:
    def lease_dir(cls: type) -> Path:
        return directory

    return type("WpbxWanLease", (JSONFileLease,), {"_get_lease_dir": classmethod(lease_dir)})


def to_wan_lease(lease: Lease) -> WanLease:
    def optional(getter: Callable[[], Any], default: Any) -> Any:
        try:
            return getter()
        except (MissingOptionError, IndexError, KeyError, TypeError):
            return default

    prefix = optional(lambda: lease.prefixlen, 32)
    address = str(ipaddress.IPv4Interface(f"{lease.ip}/{prefix}"))
    expires_in = optional(lambda: lease.expiration_in, None)
    return WanLease(
        interface=lease.interface, address=address,
        gateway=optional(lambda: lease.default_gateway, ""),
        dns=tuple(optional(lambda: lease.name_servers, ()) or ()),
        expires=(lease.obtained + lease.lease_time) if expires_in is not None else 0.0,
        server=optional(lambda: lease.server_id, ""),
    )


class WanDhcpClient:
    def __init__(self, interface: str, lease_dir: Path, hostname: str,
                 on_change: Callable[[str, WanLease | None], None]) -> None:
        self.interface = interface
        self.lease_dir = lease_dir
        self.hostname = hostname
        self.on_change = on_change
        self.lease: WanLease | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._client: AsyncDHCPClient | None = None

    def stored_lease(self) -> WanLease | None:
        """The lease kept from a previous run, if it has not expired (the client confirms it
        with an INIT-REBOOT request; until then the address stays, so a restart does not flap)."""
        try:
            lease = _lease_class(self.lease_dir).load(self.interface)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if lease is None or lease.expired:
            return None
        try:
            return to_wan_lease(lease)
        except (MissingOptionError, ValueError):
            return None

    async def start(self) -> None:
        self.lease_dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._run(), name=f"dhcp client {self.interface}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5.0)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            except Exception:
                log.exception("%s: DHCP client failed while stopping", self.interface)
            self._task = None

    def status(self) -> dict[str, Any]:
        state = self._client.state.name if self._client is not None else "OFF"
        return {"interface": self.interface, "state": state,
                "lease": self.lease.__dict__ if self.lease else None}

    async def _bound(self, lease: Lease) -> None:
        self.lease = to_wan_lease(lease)
        log.info("%s: DHCP lease %s via %s", self.interface, self.lease.address, self.lease.gateway or "-")
        self.on_change(self.interface, self.lease)

    async def _unbound(self, lease: Lease) -> None:
        log.info("%s: DHCP lease %s gone", self.interface, lease.ip)
        self.lease = None
        self.on_change(self.interface, None)

    async def _run(self) -> None:
        config = ClientConfig(
            interface=self.interface, lease_type=_lease_class(self.lease_dir),
            hooks=(Hook(func=self._bound, triggers={Trigger.BOUND, Trigger.RENEWED, Trigger.REBOUND}),
                   Hook(func=self._unbound, triggers={Trigger.UNBOUND, Trigger.EXPIRED})),
            handle_signals=False, release=False, write_pidfile=False,
            vendor_id=VENDOR_ID, host_name=self.hostname,
        )
        try:
            async with AsyncDHCPClient(config) as client:
                self._client = client
                await client.bootstrap()
                await self._stopping.wait()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: DHCP client stopped", self.interface)
        finally:
            self._client = None

    @property
    def bound(self) -> bool:
        return self._client is not None and self._client.state == State.BOUND
