"""A call for application tests: the engine runs the real dialplan from a real store,
and ``media()`` gives a real ``MediaChannel`` whose far end is an ``RtpPhone`` on
loopback. Only the SIP side is left out (``ring`` records who would ring); the
B2BUA end-to-end tests cover it with sipp and baresip."""

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.daemon_runner import free_rtp_range
from tests.media_engine.rtpphone import HOST, RtpPhone
from wpbxd.config import users
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store
from wpbxd.telephony.dialplan import engine
from wpbxd.telephony.dialplan.context import DialResult, DialStatus, DialTarget, ExtensionState
from wpbxd.telephony.media.channel import MediaChannel
from wpbxd.telephony.media.negotiation import Negotiated
from wpbxd.telephony.media.relay import PortAllocator
from wpbxd.telephony.media.services import PbxMediaServices


def make_store(template: Path, tmp: Path) -> Store:
    shutil.copyfile(template, tmp / "wpbx.db")
    return Store(tmp / "wpbx.db")


def template_store(path: Path) -> Path:
    store = Store(path)
    store.migrate()
    apply_factory_defaults(store)
    store.close()
    return path


def add_user(store, ext, web_password=None, **kw):
    values = {"name": kw.pop("name", f"User {ext}"), "extension": ext, **kw}
    return users.add_user(store, None, values, web_password=web_password)


@dataclass
class MediaCall:
    """``CallContext`` + ``media()`` + ``services`` for one call from ``caller_number``."""

    services: PbxMediaServices
    phone: RtpPhone
    caller_number: str
    called: str
    procedure: str = "users"
    caller_name: str = ""
    call_id: str = "m1"
    answered: bool = False
    rings: list[list[str]] = field(default_factory=list)
    hangups: list[tuple[int, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    channel: MediaChannel | None = None
    allocator: PortAllocator = field(default_factory=lambda: PortAllocator(*free_rtp_range(10)))

    async def media(self, codecs: tuple[str, ...] | None = None,
                    first: tuple[str, ...] | None = None) -> MediaChannel:
        if self.channel is None:
            self.answered = True
            self.channel = MediaChannel.open(self.allocator, HOST, tone_zone=self.services.tone_zone)
            self.phone.target = (HOST, self.channel.local_port)
            self.channel.start(Negotiated(self.phone.codec.name, self.phone.codec.payload_type,
                                          self.phone.event_pt, HOST, self.phone.port, "sendrecv"))
        return self.channel

    async def dial(self, targets, timeout):
        return await self.ring([DialTarget(t) for t in targets], timeout)

    async def ring(self, targets, timeout):
        self.rings.append([t.number for t in targets])
        return DialResult(DialStatus.ANSWERED, 200, "OK", targets[0].number)

    def extension_state(self, extension):
        return ExtensionState(True, 0)

    async def wait(self, seconds):
        await asyncio.sleep(seconds)
        return True

    async def answer(self):
        self.answered = True

    async def hangup(self, sip_code, reason=""):
        self.hangups.append((sip_code, reason))
        if self.channel is not None:
            self.channel.close()

    def publish(self, event):
        pass

    def trace(self, text):
        self.lines.append(text)

    def caller_hangs_up(self) -> None:
        if self.channel is not None:
            self.channel.close()


def start(store: Store, call: MediaCall) -> asyncio.Task:
    """Run the call through the stored dialplan (in the background)."""
    return asyncio.ensure_future(engine.run(engine.Dialplan.load(store), call))
