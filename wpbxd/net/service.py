"""The ``net`` service: the four ports, the DHCP server, the WAN DHCP client, safe apply.

Responsible for: the control commands of networking (``net.*``, ``dhcp.*``), keeping
the desired state in the store, and — only when it manages interfaces (appliance
mode, or ``manage_in_host_mode`` in the net state) — realising the confirmed state at start,
applying a new state with an automatic rollback unless it is confirmed in time
(``confirm_timeout`` in the net state, 60 s by default), running a DHCP server on the port the
admin chose and a DHCP client on the WAN device.

In host mode (and ``manage_in_host_mode`` off) it must not touch any interface: commands
that would are refused with a message saying why.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from wpbxd.errors import UserError
from wpbxd.events import ConfigChanged
from wpbxd.net import model, ports_check
from wpbxd.net.dhcp import lease_store
from wpbxd.net.dhcp.leases import PoolConfig
from wpbxd.net.dhcp.server import DhcpServer
from wpbxd.net.model import NetState
from wpbxd.service import DaemonConfig, ServiceContext

if TYPE_CHECKING:      # pyroute2 (~10 MB) is imported only when interfaces are managed
    from wpbxd.net.reconcile import KernelPlan, Reconciler, WanLease
    from wpbxd.net.wan_client import WanDhcpClient

log = logging.getLogger(__name__)
logging.getLogger("pyroute2").setLevel(logging.INFO)   # its DEBUG is one line per netlink message
T = TypeVar("T")

RESOLV_NAME = "resolv.conf"     # in the data directory; the image links /etc/resolv.conf to it
WAN_LEASE_DIR = "net"


class NotManaging(UserError):
    pass


def pool_config(state: NetState, web_port: int) -> PoolConfig | None:
    """The DHCP server's pool from the state (None when the server is off)."""
    dhcp = state.dhcp
    if not dhcp.enabled:
        return None
    port = state.port(dhcp.interface)
    iface = model.interface_network(port)
    server = str(iface.ip)
    web = "" if web_port == 80 else f":{web_port}"
    return PoolConfig(
        interface=dhcp.interface, server_ip=server, subnet=str(iface.network),
        range_start=dhcp.range_start, range_end=dhcp.range_end, lease_time=dhcp.lease_minutes * 60,
        max_leases=dhcp.max_leases, refuse_unknown=dhcp.refuse_unknown, domain=dhcp.domain,
        gateway=dhcp.gateway, dns=dhcp.dns, ntp=dhcp.ntp, wins=dhcp.wins,
        tftp_server=dhcp.tftp_server or server, tftp_addresses=(dhcp.tftp_server or server,)
        if _is_ip(dhcp.tftp_server or server) else (),
        provisioning_url=dhcp.provisioning_url or f"http://{server}{web}/provisioning/",
        vendor_options=tuple((p, bytes.fromhex(h)) for p, h in dhcp.vendor_options),
        probe=dhcp.conflict_check,
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


class NetService:
    name = "net"

    def __init__(self, ctx: ServiceContext, dhcp_port: int = 67) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.dhcp_port = dhcp_port
        self.reconciler: Reconciler | None = None
        self.current: NetState | None = None         # what the kernel was last told
        self.wan_leases: dict[str, WanLease] = {}
        self.clients: dict[str, WanDhcpClient] = {}
        self.servers: dict[str, DhcpServer] = {}
        self.last_plan: KernelPlan | None = None
        self.last_changes: list[str] = []
        self.pending: dict[str, Any] | None = None
        self.last_rollback: dict[str, Any] | None = None
        self.start_error: str | None = None
        self._rollback_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._managing = ctx.config.appliance
        # pyroute2's sync IPRoute cannot run inside the event loop: netlink gets its own thread.
        self._netlink = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")
        self._wan_tasks: set[asyncio.Task[None]] = set()
        self._register()

    @property
    def managing(self) -> bool:
        return self._managing

    # -- life cycle ---------------------------------------------------------------
    async def start(self) -> None:
        self._managing = self.ctx.config.appliance or model.load(self.store).manage_in_host_mode
        if not self.managing:
            log.info("net: host mode, interfaces are not managed")
            return
        from wpbxd.net.reconcile import Reconciler
        self.reconciler = await self._in_netlink(Reconciler)
        state = model.load(self.store, "confirmed")
        async with self._lock:
            try:
                await self._realise(state)
            except Exception as err:
                # Keep the daemon up (console, web) even if the ports cannot be configured.
                self.start_error = f"{type(err).__name__}: {err}"
                log.exception("net: the confirmed network state could not be applied")

    async def stop(self) -> None:
        if self._rollback_task is not None:
            self._rollback_task.cancel()
        for server in self.servers.values():
            await server.stop()
        self.servers.clear()
        for client in self.clients.values():
            await client.stop()
        self.clients.clear()
        if self.reconciler is not None:
            await self._in_netlink(self.reconciler.close)
        self._netlink.shutdown(wait=False)

    async def _in_netlink(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._netlink, functools.partial(func, *args))

    def apply(self, config: DaemonConfig) -> None:
        """SIGHUP: nothing to re-read; network changes go through ``net apply``."""

    def describe(self) -> list[str]:
        return [f"DHCP server on {s.interface} (udp/{self.dhcp_port})" for s in self.servers.values()]

    def status(self) -> dict[str, Any]:
        return {"managing": self.managing, "pending_confirm": self.pending is not None,
                "dhcp_servers": [s.status() for s in self.servers.values()],
                "wan_clients": [c.status() for c in self.clients.values()]}

    # -- realising a state --------------------------------------------------------
    async def _realise(self, state: NetState) -> list[str]:
        from wpbxd.net.reconcile import plan
        from wpbxd.net.wan_client import WanDhcpClient
        assert self.reconciler is not None
        self.current = state
        cfg = self.ctx.config
        target = plan(state, self.wan_leases, cfg.sip_port, (cfg.rtp_low, cfg.rtp_high))
        for device in target.dhcp_clients:
            if device not in self.clients and device not in self.wan_leases:
                stored = WanDhcpClient(device, cfg.data_dir / WAN_LEASE_DIR, state.hostname,
                                       self._wan_changed).stored_lease()
                if stored is not None:
                    self.wan_leases[device] = stored
        for device in [d for d in self.clients if d not in target.dhcp_clients]:
            await self.clients.pop(device).stop()
            self.wan_leases.pop(device, None)
        target = plan(state, self.wan_leases, cfg.sip_port, (cfg.rtp_low, cfg.rtp_high))
        changes = list(await self._reconcile(target))
        for device in target.dhcp_clients:
            if device not in self.clients:
                client = WanDhcpClient(device, cfg.data_dir / WAN_LEASE_DIR, state.hostname, self._wan_changed)
                self.clients[device] = client
                await client.start()
        changes += await self._sync_servers(state)
        self._write_resolv(state)
        return changes

    async def _reconcile(self, target: KernelPlan) -> list[str]:
        assert self.reconciler is not None
        self.last_plan = target
        self.last_changes = await self._in_netlink(self.reconciler.apply, target)
        return self.last_changes

    def _wan_changed(self, device: str, lease: WanLease | None) -> None:
        if lease is None:
            self.wan_leases.pop(device, None)
        else:
            self.wan_leases[device] = lease
        if self.current is None or self.reconciler is None:
            return
        task = asyncio.ensure_future(self._apply_wan_lease(device))
        self._wan_tasks.add(task)
        task.add_done_callback(self._wan_tasks.discard)

    async def _apply_wan_lease(self, device: str) -> None:
        from wpbxd.net.reconcile import plan
        cfg = self.ctx.config
        async with self._lock:
            if self.current is None:
                return
            try:
                await self._reconcile(plan(self.current, self.wan_leases, cfg.sip_port, (cfg.rtp_low, cfg.rtp_high)))
                self._write_resolv(self.current)
            except Exception:
                log.exception("net: could not apply the WAN lease of %s", device)

    async def _sync_servers(self, state: NetState) -> list[str]:
        changes = []
        pool = pool_config(state, self.ctx.config.web_port)
        for interface, server in list(self.servers.items()):
            if pool is None or server.pool != pool:
                await server.stop()
                del self.servers[interface]
                changes.append(f"DHCP server on {interface} stopped")
        if pool is not None and pool.interface not in self.servers:
            server = DhcpServer(pool, self.store, self.ctx.bus, self.ctx.clock, port=self.dhcp_port)
            await server.start()
            self.servers[pool.interface] = server
            changes.append(f"DHCP server on {pool.interface} started ({pool.range_start}-{pool.range_end})")
        return changes

    def _write_resolv(self, state: NetState) -> None:
        servers: list[str] = []
        for device, config in state.l3_interfaces().items():
            if config.mode == "static":
                servers += config.dns
            elif device in self.wan_leases:
                servers += self.wan_leases[device].dns
        text = "".join(f"nameserver {s}\n" for s in dict.fromkeys(servers))
        path = self.ctx.config.data_dir / RESOLV_NAME
        if not path.exists() or path.read_text() != text:
            path.write_text(text)

    # -- safe apply ---------------------------------------------------------------
    async def apply_desired(self, timeout: float | None) -> dict[str, Any]:
        if not self.managing:
            raise NotManaging("wpbxd runs in host mode and does not manage interfaces"
                              " (run in appliance mode, or set manage_in_host_mode, apply it and restart wpbxd)")
        desired = model.validate(model.load(self.store))
        wait = float(timeout if timeout is not None else desired.confirm_timeout)
        if not 0 < wait <= model.MAX_CONFIRM_TIMEOUT:
            raise UserError(f"the confirm timeout must be between 0 and {model.MAX_CONFIRM_TIMEOUT} seconds")
        async with self._lock:
            previous = self.pending["previous"] if self.pending else self.current or model.load(self.store, "confirmed")
            if self._rollback_task is not None:
                self._rollback_task.cancel()
                self._rollback_task = None
            try:
                changes = await self._realise(desired)
            except Exception as err:
                log.exception("net: apply failed; going back to the previous state")
                await self._realise(previous)
                raise UserError(f"the network settings could not be applied ({err}); previous settings restored")\
                    from None
            if not changes and self.pending is None:
                model.save(self.store, desired, "confirmed")
                return {"changes": [], "confirm_within": None}
            deadline = time.time() + wait
            self.pending = {"previous": previous, "deadline": deadline}
            self._rollback_task = asyncio.create_task(self._rollback_after(wait))
        return {"changes": changes, "confirm_within": wait}

    async def _rollback_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        async with self._lock:
            if self.pending is None:
                return
            previous = self.pending["previous"]
            self.pending = None
            self._rollback_task = None
            log.warning("net: not confirmed within %.0f s: rolling back", wait)
            changes = await self._realise(previous)
            model.save(self.store, previous, "desired")
            self.last_rollback = {"at": time.time(), "changes": changes}
            self.ctx.bus.publish(ConfigChanged("net", "rollback"))

    async def confirm(self) -> dict[str, Any]:
        async with self._lock:
            if self.pending is None or self.current is None:
                raise UserError("nothing to confirm")
            if self._rollback_task is not None:
                self._rollback_task.cancel()
                self._rollback_task = None
            self.pending = None
            model.save(self.store, self.current, "confirmed")
        return {"confirmed": True}

    # -- control commands ---------------------------------------------------------
    def _register(self) -> None:
        c = self.ctx.control
        c.register("net.show", self._show)
        c.register("net.set", self._set)
        c.register("net.scenario", self._scenario)
        c.register("net.apply", lambda a: self.apply_desired(a.get("timeout")))
        c.register("net.confirm", lambda a: self.confirm())
        c.register("net.ports", self._ports)
        c.register("dhcp.leases", self._leases)
        c.register("dhcp.status", lambda a: [s.status() for s in self.servers.values()])
        c.register("dhcp.device.add", lambda a: lease_store.add_device(
            self.store, str(a.get("mac", "")), str(a.get("name", "")), str(a.get("model", ""))))
        c.register("dhcp.device.del", lambda a: lease_store.remove_device(self.store, str(a.get("mac", ""))))
        c.register("dhcp.device.list", lambda a: lease_store.devices(self.store))

    async def _show(self, args: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "managing": self.managing,
            "desired": model.as_dict(model.load(self.store)),
            "confirmed": model.as_dict(model.load(self.store, "confirmed")),
            "applied": self.last_plan.describe() if self.last_plan else None,
            "last_changes": self.last_changes,
            "pending_confirm": {"deadline": self.pending["deadline"],
                                "seconds_left": round(self.pending["deadline"] - time.time(), 1)}
            if self.pending else None,
            "last_rollback": self.last_rollback,
            "start_error": self.start_error,
            "wan_clients": [c.status() for c in self.clients.values()],
            "dhcp_servers": [s.status() for s in self.servers.values()],
        }
        if self.reconciler is not None:
            result["live"] = (await self._in_netlink(self.reconciler.live)).describe()
            result["leaf_qdisc"] = self.reconciler.leaf_kind()
        return result

    def _save(self, state: NetState) -> dict[str, Any]:
        model.save(self.store, state)
        self.ctx.bus.publish(ConfigChanged("net"))
        return model.as_dict(state)

    def _set(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._save(model.from_dict(args, model.load(self.store)))

    def _scenario(self, args: dict[str, Any]) -> dict[str, Any]:
        state = model.with_scenario(model.load(self.store), str(args.get("name", "")))
        return self._save(state)

    def _ports(self, args: dict[str, Any]) -> dict[str, Any]:
        """Groundwork of the web UI's red/yellow "blocked ports" indicator."""
        cfg = self.ctx.config
        state = self.current or model.load(self.store, "confirmed")
        lan = [str(model.interface_network(p).ip) for p in state.l3_interfaces().values() if p.mode == "static"]
        lan += [lease.address.split("/")[0] for lease in self.wan_leases.values()]
        needed = [("SIP", "udp", cfg.sip_port), ("SIP", "tcp", cfg.sip_port),
                  ("web and provisioning", "tcp", cfg.web_port)]
        results = ports_check.check(needed, lan)
        return {"status": ports_check.overall(results), "lan_addresses": lan,
                "ports": [r.__dict__ for r in results]}

    def _leases(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        return lease_store.table(self.store, self.ctx.clock(), include_expired=bool(args.get("all")))
