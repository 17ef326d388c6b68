"""A SIP stack with a trunk runtime on loopback, for tests that need no whole wpbxd."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from wpbxd.telephony.sip.stack import SipStack
from wpbxd.telephony.trunks.model import Trunk
from wpbxd.telephony.trunks.resolver import DnsLookup
from wpbxd.telephony.trunks.runtime import TrunkRuntime


async def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def with_runtime(trunks: list[Trunk], body: Callable[[TrunkRuntime], Awaitable[None]],
                       lookup: DnsLookup | None = None, retry_base: float | None = None) -> None:
    stack = SipStack("127.0.0.1", 0)
    await stack.start()
    runtime = TrunkRuntime(stack, lookup or DnsLookup([("127.0.0.1", 9)]), retry_base=retry_base)
    runtime.configure(trunks)
    runtime.start()
    try:
        await body(runtime)
    finally:
        await runtime.stop()
        await stack.stop()
