"""Factory defaults, applied to an empty store (first start, or after a factory reset).

The super admin ``admin`` / ``wildix`` (flagged *must change*), the ACL group
``default``, and the dialplan procedures of the seed: ``main`` (trunks), ``users``
(users; includes ``pbxinternal``), ``pbxinternal`` (extensions and feature codes)
and ``kite``. ``pbxinternal`` rings extensions through a plain dialplan entry, so
the admin can change that routing like any other.
"""

import json

from wpbxd.config import passwords
from wpbxd.config.store import Store

SUPER_ADMIN_PASSWORD = "wildix"
DEFAULT_ALLOWED_CLASSES = ["internal", "national", "mobile"]
PROCEDURES = {
    "main": "Incoming calls from trunks",
    "users": "Calls placed by users",
    "pbxinternal": "Extensions and feature codes",
    "kite": "Incoming calls from the Kite service",
}
# procedure -> [(pattern, [(application, params), ...])]
ENTRIES = {
    "pbxinternal": [("X!", [("dial", {"target": "${called}"})])],
}
INCLUDES = [("users", "pbxinternal")]


def is_factory_fresh(store: Store) -> bool:
    return store.one("SELECT 1 FROM users LIMIT 1") is None


def apply_factory_defaults(store: Store) -> None:
    """Write the defaults into an empty store (one transaction)."""
    with store.transaction():
        store.execute(
            "INSERT INTO acl_groups(name, allowed_classes) VALUES ('default', ?)",
            (json.dumps(DEFAULT_ALLOWED_CLASSES),),
        )
        for name, description in PROCEDURES.items():
            store.execute(
                "INSERT INTO procedures(name, description) VALUES (?, ?)", (name, description)
            )
        for position, (procedure, included) in enumerate(INCLUDES):
            store.execute(
                "INSERT INTO procedure_includes(procedure, included, position) VALUES (?, ?, ?)",
                (procedure, included, position),
            )
        for procedure, entries in ENTRIES.items():
            for position, (pattern, apps) in enumerate(entries):
                cur = store.execute(
                    "INSERT INTO dialplan_entries(procedure, position, pattern) VALUES (?, ?, ?)",
                    (procedure, position, pattern),
                )
                for app_pos, (app, params) in enumerate(apps):
                    store.execute(
                        "INSERT INTO dialplan_apps(entry_id, position, app, params)"
                        " VALUES (?, ?, ?, ?)",
                        (cur.lastrowid, app_pos, app, json.dumps(params)),
                    )
        store.execute(
            "INSERT INTO users(type, name, login, web_password_hash, keypad_hash,"
            " must_change_password) VALUES ('admin', 'Administrator', 'admin', ?, ?, 1)",
            (
                passwords.hash_secret(SUPER_ADMIN_PASSWORD),
                passwords.hash_secret(passwords.keypad_code(SUPER_ADMIN_PASSWORD)),
            ),
        )


def reset_super_admin(store: Store) -> None:
    """Back to ``admin`` / ``wildix``, flagged *must change* (recovery console)."""
    with store.transaction():
        store.execute(
            "UPDATE users SET web_password_hash = ?, keypad_hash = ?, must_change_password = 1"
            " WHERE login = 'admin' AND type = 'admin'",
            (
                passwords.hash_secret(SUPER_ADMIN_PASSWORD),
                passwords.hash_secret(passwords.keypad_code(SUPER_ADMIN_PASSWORD)),
            ),
        )
