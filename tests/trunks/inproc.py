"""The SIP service in this process with the trunk side wired as ``TrunkSide`` does it.

For call tests through trunks that run the real SIP stack, registrar, dialplan,
relay and CDR writer, with real SIP peers (sipp) on loopback.
"""

import asyncio
from pathlib import Path

from tests.daemon_runner import free_port, free_rtp_range
from wpbxd.bus import EventBus
from wpbxd.control import ControlServer
from wpbxd.daemon import open_store
from wpbxd.events import ConfigChanged
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.telephony.service import SipService
from wpbxd.telephony.trunks.sip_side import TrunkSide


class InprocPbx:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        low, high = free_rtp_range()
        self.config = DaemonConfig(data_dir=data_dir, sip_host="127.0.0.1", sip_port=free_port(),
                                   rtp_low=low, rtp_high=high)
        self.store = open_store(data_dir)
        self.bus = EventBus()
        self.control = ControlServer(data_dir / "ctl.sock")
        self.ctx = ServiceContext(self.config, self.store, self.bus, self.control)
        self.sip: SipService | None = None
        self.side: TrunkSide | None = None
        self._own_side = False

    @property
    def sip_port(self) -> int:
        assert self.sip is not None and self.sip.stack is not None
        return self.sip.stack.port

    async def start(self) -> None:
        self.bus.attach_loop(asyncio.get_running_loop())
        sip = SipService(self.ctx)
        await sip.start()
        self.sip = sip
        side = getattr(sip, "trunk_side", None)
        if side is None:            # a SIP service that does not build its trunk side itself
            side = TrunkSide(self.ctx, sip.stack, sip.auth)
            base = sip.b2bua
            sip.b2bua = side.call_engine(base.stack, base.registrar, base.auth, base.directory, base.relay,
                                         base.cdr, base.bus, base.dialplan, base.ring_timeout)
            register = sip.stack.handlers["REGISTER"]
            sip.stack.handlers["REGISTER"] = lambda txn, req: side.on_register(txn, req) or register(txn, req)
            self.bus.subscribe(ConfigChanged, side.on_config)
            side.start()
            self._own_side = True
        self.side = side

    def reload(self) -> None:
        """What the daemon does after a config change: the services hear ConfigChanged."""
        self.bus.publish(ConfigChanged("all"))

    async def stop(self) -> None:
        if self.side is not None and self._own_side:
            await self.side.stop()
        if self.sip is not None:
            await self.sip.stop()
        self.store.close()
