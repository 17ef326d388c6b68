"""Feature codes of the PBX (seed: 76 echo test, 99 login, 93 switches, voicemail access).

They are *data*: dialplan entries in ``pbxinternal`` running the media
applications, written once through the dialplan's service functions (so the
save-time check applies) and marked done in ``media_setup``; afterwards the admin
changes or deletes them like any other entry and they are never put back.

Rule: this module only seeds rows; it runs no call.
"""

import logging

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import UserError

log = logging.getLogger(__name__)

PROCEDURE = "pbxinternal"
STEP = "feature_codes_v1"
# called number -> applications (each {"app": name, "params": {...}})
FEATURE_CODES: dict[str, list[dict]] = {
    "76": [{"app": "echo", "params": {}}],
    "99": [{"app": "phone_login", "params": {}}],
    "93": [{"app": "switch_toggle", "params": {}}],
    "97": [{"app": "voicemail_access", "params": {}}],
}


def install_feature_codes(store: Store, bus: EventBus | None) -> list[str]:
    """Write the feature codes into ``pbxinternal`` unless done before; returns the codes added.

    A code whose number the admin already uses is left alone. Nothing happens
    (and nothing is marked) while ``pbxinternal`` does not exist yet.
    """
    from wpbxd.telephony.dialplan import procedures
    if store.one("SELECT 1 FROM media_setup WHERE step = ?", (STEP,)):
        return []
    if store.one("SELECT 1 FROM procedures WHERE name = ?", (PROCEDURE,)) is None:
        return []
    added = []
    for position, (number, apps) in enumerate(FEATURE_CODES.items()):
        if store.one("SELECT 1 FROM dialplan_entries WHERE procedure = ? AND pattern = ?", (PROCEDURE, number)):
            continue
        try:
            procedures.add_entry(store, bus, PROCEDURE, number, apps, position=position)
            added.append(number)
        except UserError as err:
            log.error("feature code %s not installed: %s", number, err)
    with store.transaction():
        store.execute("INSERT OR IGNORE INTO media_setup(step) VALUES (?)", (STEP,))
    return added
