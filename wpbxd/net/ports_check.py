"""Groundwork of the "blocked ports" indicator: are the PBX's ports bound on the LAN side?

Responsible for: reading the kernel's socket tables (``/proc/net/{udp,tcp}``, in
the daemon's network namespace) and saying, for each port the PBX needs (SIP over
UDP and TCP, the web UI / provisioning port), whether a socket is bound where LAN
clients can reach it (the wildcard address or the LAN address), only elsewhere
(e.g. loopback: yellow), or not at all (red).

It must not: open sockets, send traffic, or change anything.
"""

import socket
import struct
from dataclasses import dataclass
from pathlib import Path

PROC_NET = Path("/proc/net")
TCP_LISTEN = "0A"
GREEN, YELLOW, RED = "green", "yellow", "red"


@dataclass(frozen=True)
class PortCheck:
    name: str
    proto: str
    port: int
    status: str
    bound_on: tuple[str, ...]


def bound_addresses(proto: str, port: int, proc: Path = PROC_NET) -> set[str]:
    """IPv4 addresses with a socket bound to ``port`` (TCP: listening sockets only)."""
    found: set[str] = set()
    try:
        lines = (proc / proto).read_text().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        address, _, hex_port = fields[1].partition(":")
        if int(hex_port, 16) != port or (proto == "tcp" and fields[3] != TCP_LISTEN):
            continue
        found.add(socket.inet_ntoa(struct.pack("<I", int(address, 16))))
    return found


def check(needed: list[tuple[str, str, int]], lan_addresses: list[str], proc: Path = PROC_NET) -> list[PortCheck]:
    """``needed``: (name, "udp"|"tcp", port). Green when reachable from the LAN."""
    results = []
    reachable = {"0.0.0.0", *lan_addresses}
    for name, proto, port in needed:
        bound = bound_addresses(proto, port, proc)
        status = GREEN if bound & reachable else YELLOW if bound else RED
        results.append(PortCheck(name, proto, port, status, tuple(sorted(bound))))
    return results


def overall(results: list[PortCheck]) -> str:
    statuses = {r.status for r in results}
    return RED if RED in statuses else YELLOW if YELLOW in statuses else GREEN
