"""Persistence of DHCP leases and of the known-devices list, in the SQLite store.

Responsible for: loading an interface's lease records at start, writing a batch of
lease records in one transaction (the server commits before it sends the ACKs),
the lease table shown by ``wpbxctl dhcp leases``, and the MACs of known devices.

It must not: decide anything about leases (``leases.py`` does) or do network I/O.
"""

import re
import time
from collections.abc import Iterable
from typing import Any

from wpbxd.config.store import Store
from wpbxd.errors import NotFound, ValidationError
from wpbxd.net.dhcp.leases import Lease

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def normalize_mac(text: str) -> str:
    mac = text.strip().lower().replace("-", ":")
    if re.fullmatch(r"[0-9a-f]{12}", mac):
        mac = ":".join(mac[i:i + 2] for i in range(0, 12, 2))
    if not MAC_RE.match(mac):
        raise ValidationError(f"not a MAC address: {text!r}", "mac")
    return mac


def load(store: Store, interface: str) -> list[Lease]:
    rows = store.all("SELECT * FROM dhcp_leases WHERE interface = ? OR interface = ''", (interface,))
    return [Lease(ip=r["ip"], mac=r["mac"], state=r["state"], expires=r["expires"],
                  hostname=r["hostname"], vendor_class=r["vendor_class"],
                  client_id=r["client_id"], interface=r["interface"]) for r in rows]


def commit(store: Store, leases: Iterable[Lease]) -> None:
    """Write lease records durably (one transaction) before any reply goes out."""
    now = time.time()
    rows = [(x.ip, x.mac, x.state, x.expires, x.hostname, x.vendor_class, x.client_id,
             x.interface, now) for x in leases]
    if not rows:
        return
    with store.transaction():
        store.executemany(
            "INSERT INTO dhcp_leases(ip, mac, state, expires, hostname, vendor_class, client_id,"
            " interface, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, state = excluded.state,"
            " expires = excluded.expires, hostname = excluded.hostname,"
            " vendor_class = excluded.vendor_class, client_id = excluded.client_id,"
            " interface = excluded.interface, updated_at = excluded.updated_at",
            rows,
        )


def table(store: Store, now: float, include_expired: bool = False) -> list[dict[str, Any]]:
    sql = "SELECT * FROM dhcp_leases"
    if not include_expired:
        sql += " WHERE state = 'bound' AND expires > ?"
    rows = store.all(sql + " ORDER BY interface, ip", (now,) if not include_expired else ())
    return [
        {"ip": r["ip"], "mac": r["mac"], "hostname": r["hostname"], "vendor_class": r["vendor_class"],
         "state": r["state"] if r["expires"] > now or r["state"] != "bound" else "expired",
         "expires": round(r["expires"], 1),
         "expires_in": max(int(r["expires"] - now), 0), "interface": r["interface"]}
        for r in rows
    ]


def is_known(store: Store, mac: str) -> bool:
    return store.one("SELECT 1 FROM devices WHERE mac = ?", (mac,)) is not None


def add_device(store: Store, mac: str, name: str = "", model: str = "") -> dict[str, str]:
    mac = normalize_mac(mac)
    with store.transaction():
        store.execute(
            "INSERT INTO devices(mac, name, model) VALUES (?, ?, ?)"
            " ON CONFLICT(mac) DO UPDATE SET name = excluded.name, model = excluded.model",
            (mac, name, model),
        )
    return {"mac": mac, "name": name, "model": model}


def remove_device(store: Store, mac: str) -> None:
    mac = normalize_mac(mac)
    with store.transaction():
        if store.execute("DELETE FROM devices WHERE mac = ?", (mac,)).rowcount == 0:
            raise NotFound(f"no device with MAC {mac}")


def devices(store: Store) -> list[dict[str, str]]:
    return [dict(r) for r in store.all("SELECT mac, name, model FROM devices ORDER BY mac")]
