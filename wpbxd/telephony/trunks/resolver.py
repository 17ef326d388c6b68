"""Where to send a trunk's requests: RFC 3263 §4 target resolution (UDP).

- an IP address: that address, the given port or 5060;
- a host name with an explicit port: its A/AAAA addresses at that port;
- a host name without a port: the ``_sip._udp`` SRV records, ordered by
  priority and, within a priority, by RFC 2782 weighted random selection; each
  target's A/AAAA addresses in turn; no SRV record: the name's A/AAAA at 5060.

The result is an ordered list of targets; the caller fails over to the next one
when a target times out or answers 503 (§4.3). NAPTR is not consulted (UDP is
the only transport a trunk uses here).

The DNS is injectable: ``Lookup`` has ``srv(name)`` and ``addresses(name)``.
``DnsLookup`` asks given name servers (tests run their own on loopback) or
the system's; ``order_srv`` is a pure function tested without any DNS.

Rule: nothing here sends SIP or keeps state between calls.
"""

import asyncio
import ipaddress
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from wpbxd.errors import ValidationError

DEFAULT_PORT = 5060
DNS_TIMEOUT = 3.0            # seconds per DNS query (all servers)

Target = tuple[str, str, int]


class ResolveError(Exception):
    """No address could be found; the message says why."""


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


class Lookup(Protocol):
    async def srv(self, name: str) -> list[SrvRecord]: ...

    async def addresses(self, name: str) -> list[str]: ...


def order_srv(records: list[SrvRecord], rng: Callable[[], float] = random.random) -> list[SrvRecord]:
    """RFC 2782 order: ascending priority; weighted random selection within each priority."""
    ordered: list[SrvRecord] = []
    for priority in sorted({r.priority for r in records}):
        pool = [r for r in records if r.priority == priority]
        # zero-weight records first in the pool, as RFC 2782 asks, so they get a small chance
        pool.sort(key=lambda r: r.weight != 0)
        while pool:
            total = sum(r.weight for r in pool)
            if total == 0:
                ordered.extend(pool)
                break
            pick = rng() * total
            running = 0
            for index, record in enumerate(pool):
                running += record.weight
                if running >= pick:
                    ordered.append(pool.pop(index))
                    break
            else:
                ordered.append(pool.pop())
    return ordered


def _ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


async def resolve(host: str, port: int | None, lookup: "Lookup") -> list[Target]:
    """The ordered targets for ``host`` (optional ``port``); ``ResolveError`` when none."""
    literal = _ip(host)
    if literal is not None:
        return [("udp", literal, port or DEFAULT_PORT)]
    name = host.rstrip(".")
    if port is None:
        records = [r for r in await lookup.srv(f"_sip._udp.{name}") if r.target not in ("", ".")]
        if records:
            targets: list[Target] = []
            for record in order_srv(records):
                for address in await lookup.addresses(record.target.rstrip(".")):
                    if ("udp", address, record.port) not in targets:
                        targets.append(("udp", address, record.port))
            if targets:
                return targets
            raise ResolveError(f"the SRV targets of {name} have no address")
    addresses = await lookup.addresses(name)
    if not addresses:
        raise ResolveError(f"{name} has no address")
    return [("udp", a, port or DEFAULT_PORT) for a in addresses]


class DnsLookup:
    """DNS through dnspython: given servers (``host:port`` list) or the system's."""

    def __init__(self, nameservers: list[tuple[str, int]] | None = None) -> None:
        self.nameservers = nameservers
        self._resolver: Any = None

    @property
    def resolver(self) -> Any:
        """The dnspython resolver, made (and dnspython imported, ~4 MB) on the first query."""
        if self._resolver is None:
            import dns.asyncresolver
            import dns.rdatatype  # noqa: F401  (registers the record types)
            import dns.resolver
            if self.nameservers:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [h for h, _ in self.nameservers]
                resolver.port = self.nameservers[0][1]
            else:
                try:
                    resolver = dns.asyncresolver.Resolver()
                except dns.resolver.NoResolverConfiguration:
                    resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.lifetime = DNS_TIMEOUT
            self._resolver = resolver
        return self._resolver

    async def _query(self, name: str, rdtype: str) -> list:
        import dns.exception
        import dns.resolver
        resolver = self.resolver
        try:
            answer = await resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout:
            raise ResolveError(f"DNS timeout asking {rdtype} {name}") from None
        return list(answer)

    async def srv(self, name: str) -> list[SrvRecord]:
        return [SrvRecord(r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True))
                for r in await self._query(name, "SRV")]

    async def addresses(self, name: str) -> list[str]:
        if not self.nameservers:
            return await _system_addresses(name)
        found = [r.address for r in await self._query(name, "A")]
        found += [r.address for r in await self._query(name, "AAAA")]
        return found


async def _system_addresses(name: str) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_DGRAM)
    except socket.gaierror:
        return []
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    return out


def parse_servers(text: str) -> list[tuple[str, int]]:
    """``"127.0.0.1:5353, 192.0.2.53"`` -> [(host, port)]; ``ValueError`` naming the bad item."""
    servers: list[tuple[str, int]] = []
    for item in (i.strip() for i in str(text or "").split(",")):
        if not item:
            continue
        host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "53")
        if _ip(host) is None or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{item!r} is not IP[:port]")
        servers.append((host, int(port)))
    return servers


def servers_setting(value: object) -> str:
    """Settings check for ``trunks.dns_servers``."""
    try:
        parse_servers(str(value or ""))
    except ValueError as err:
        raise ValidationError(str(err)) from None
    return str(value or "").strip()
