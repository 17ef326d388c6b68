"""What the serial boot menu does: the box's recovery code, admin reset, factory reset.

``reset_admin`` sets ``admin`` / ``wildix`` again (must change) and lifts every SIP
ban — nothing else changes. ``factory_reset`` empties every configuration table
(except the box's identity and the schema bookkeeping), writes the factory
defaults again and deletes the data areas' files (voicemail, recordings, faxes,
CDR files, custom sounds) — on internal storage at once, and on the USB key when
the storage service mounts it next (a marker file in the data directory). Backups are kept on purpose: recovering a box and then
restoring a backup is the usual way back. Both run before the other services
start (boot menu) and publish ``ConfigChanged``.

This module asks no questions: confirmation and the recovery code are checked by
the screens (``screens.py``).
"""

import os
import secrets
from pathlib import Path

from wpbxd.bus import EventBus
from wpbxd.config.defaults import apply_factory_defaults, reset_super_admin
from wpbxd.config.store import Store
from wpbxd.events import ConfigChanged
from wpbxd.hw import areas

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: it is read off a label
CODE_GROUPS, CODE_GROUP_LENGTH = 3, 4
KEPT_TABLES = {"schema_migrations", "box"}
KEPT_AREAS = {"backups"}


def recovery_code(store: Store) -> str:
    """The box's recovery code, generated once at first start."""
    row = store.one("SELECT recovery_code FROM box WHERE id = 1")
    if row is not None:
        return str(row["recovery_code"])
    code = "-".join(
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
        for _ in range(CODE_GROUPS)
    )
    with store.transaction():
        store.execute("INSERT OR IGNORE INTO box(id, recovery_code) VALUES (1, ?)", (code,))
    return str(store.one("SELECT recovery_code FROM box WHERE id = 1")["recovery_code"])


def boot_countdown(store: Store) -> int:
    row = store.one("SELECT boot_countdown FROM box WHERE id = 1")
    return int(row["boot_countdown"]) if row else 5


def set_boot_countdown(store: Store, seconds: int) -> None:
    recovery_code(store)
    with store.transaction():
        store.execute("UPDATE box SET boot_countdown = ? WHERE id = 1", (int(seconds),))


def _table_exists(store: Store, name: str) -> bool:
    return store.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None


def reset_admin(store: Store, bus: EventBus | None) -> str:
    """admin / wildix (must change) and no bans; returns a message for the console."""
    reset_super_admin(store)
    unbanned = 0
    if _table_exists(store, "sip_bans"):
        with store.transaction():
            unbanned = store.execute("DELETE FROM sip_bans").rowcount
    if bus is not None:
        bus.publish(ConfigChanged("users"))
        bus.publish(ConfigChanged("bans"))
    return f"Admin password reset to the factory default (must be changed at next login); {unbanned} ban(s) lifted."


def config_tables(store: Store) -> list[str]:
    return [
        r["name"] for r in store.all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if r["name"] not in KEPT_TABLES
    ]


def factory_reset(store: Store, bus: EventBus | None, data_dir: Path) -> str:
    """Configuration and data back to factory defaults; returns a message."""
    with store.transaction():
        store.execute("PRAGMA defer_foreign_keys = ON")
        for table in config_tables(store):
            store.execute(f'DELETE FROM "{table}"')
        apply_factory_defaults(store)
    roots = {os.path.realpath(areas.storage_root(data_dir)), os.path.realpath(areas.internal_root(data_dir))}
    removed = sum(areas.wipe_areas(Path(root), keep=tuple(KEPT_AREAS)) for root in sorted(roots))
    # the USB key is mounted only later (the boot menu runs first): wipe it when it is
    (Path(data_dir) / areas.WIPE_MARKER).touch()
    if bus is not None:
        bus.publish(ConfigChanged("all"))
    return f"System recovered: factory configuration written, {removed} data file(s) removed (backups kept)."
