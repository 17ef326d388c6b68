"""What the media applications may ask of the PBX (besides the call itself).

``MediaServices`` is the contract: the sound library, the tone zone, a user's
language and mailbox, the keypad password check of feature code 99 (and of
voicemail access), assigning the calling phone to a user, switching a switch
(feature code 93), and mailing a voicemail. The call engine gives applications
one through ``CallContext.services``; ``PbxMediaServices`` is the daemon's, over
the store, the event bus and the data folder.

Rule: applications never touch the store, the network or the disk directly;
they go through these methods, each of which validates and goes through the
service functions of the area that owns the data (switches: dialplan catalog).
Mail goes out in an executor, never on the loop.
"""

import asyncio
import logging
import time
from pathlib import Path
from typing import Protocol

from wpbxd.bus import EventBus
from wpbxd.config import passwords, settings
from wpbxd.config.store import Store
from wpbxd.errors import NotFound, UserError
from wpbxd.events import ConfigChanged
from wpbxd.sounds.library import SoundLibrary
from wpbxd.telephony.media.negotiation import CodecPolicy
from wpbxd.telephony.media.voicemail import Mailbox, VoicemailMessage, notice_mail

log = logging.getLogger(__name__)

SWITCH_CYCLE = {2: ("off", "on"), 3: ("off", "on", "extra")}


class MediaServices(Protocol):
    sounds: SoundLibrary
    tone_zone: str
    codec_policy: CodecPolicy

    def language_of(self, extension: str) -> str | None: ...

    def mailbox(self, extension: str) -> Mailbox: ...

    def check_keypad_password(self, extension: str, digits: str) -> bool: ...

    def assign_phone(self, device: str, extension: str) -> None: ...

    def toggle_switch(self, ident: str) -> tuple[str, str]: ...

    async def mail_voicemail(self, message: VoicemailMessage) -> list[str]: ...


class PbxMediaServices:
    """The daemon's ``MediaServices``. Sounds and voicemail live in the data areas of
    ``wpbxd.hw.areas`` (``DATA/storage/sounds``, ``DATA/storage/voicemail``: the USB key
    when the storage service mounted one, else internal), resolved on every use."""

    def __init__(self, store: Store, bus: EventBus | None, data_dir: Path) -> None:
        from wpbxd.hw import areas
        self.store = store
        self.bus = bus
        self.data_dir = Path(data_dir)
        areas.ensure_areas(self.data_dir)
        self._sounds_root = areas.area_path(self.data_dir, "sounds")
        self._voicemail_root = areas.area_path(self.data_dir, "voicemail")
        self.reload()
        if bus is not None:
            bus.subscribe(ConfigChanged, self._on_config)

    def reload(self) -> None:
        values = settings.get_all(self.store)
        packages = tuple(p for p in str(values["pbx.sound_packages"]).split(",") if p)
        self.sounds = SoundLibrary(self._sounds_root, str(values["pbx.language"]), packages)
        self.tone_zone = str(values["pbx.tone_zone"])
        self.codec_policy = CodecPolicy.from_settings(values)

    def _on_config(self, event: ConfigChanged) -> None:
        if event.section in ("settings", "sounds"):
            self.reload()

    # -- users ------------------------------------------------------------------------
    def language_of(self, extension: str) -> str | None:
        row = self.store.one("SELECT language FROM users WHERE extension = ?", (extension,))
        return row["language"] if row else None

    def mailbox(self, extension: str) -> Mailbox:
        return Mailbox(self._voicemail_root, extension)

    def check_keypad_password(self, extension: str, digits: str) -> bool:
        """Feature code 99 and voicemail access: the first five characters of the user's
        web password typed on the keypad (letters as their digit, others as ``*``);
        the super admin's password is accepted for any extension (seed, 99)."""
        if not digits:
            return False
        rows = self.store.all("SELECT keypad_hash FROM users WHERE (extension = ? AND extension IS NOT NULL)"
                              " OR (type = 'admin' AND login = 'admin')", (extension,))
        return any(r["keypad_hash"] and passwords.verify_secret(digits, r["keypad_hash"]) for r in rows)

    def user_exists(self, extension: str) -> bool:
        return self.store.one("SELECT 1 FROM users WHERE extension = ?", (extension,)) is not None

    def assign_phone(self, device: str, extension: str) -> None:
        """Record that the phone ``device`` (its SIP identity) now belongs to ``extension``;
        provisioning reads ``phone_logins`` and re-provisions it."""
        if not self.user_exists(extension):
            raise NotFound(f"no user with extension {extension!r}")
        with self.store.transaction():
            self.store.execute("INSERT OR REPLACE INTO phone_logins(device, extension, logged_in_at)"
                               " VALUES (?, ?, ?)", (device, extension, time.time()))
        if self.bus is not None:
            self.bus.publish(ConfigChanged("phone_logins", device))

    # -- switches (feature code 93) ------------------------------------------------------
    def toggle_switch(self, ident: str) -> tuple[str, str]:
        """Move switch ``ident`` (its name, or its number in name order, 1-based) to its next
        state; returns (name, new state). Raises ``NotFound``."""
        from wpbxd.telephony.dialplan import catalog
        switches = catalog.list_switches(self.store)
        found = next((s for s in switches if s["name"] == ident), None)
        if found is None and ident.isdigit() and 1 <= int(ident) <= len(switches):
            found = switches[int(ident) - 1]
        if found is None:
            raise NotFound(f"no switch {ident!r}")
        cycle = SWITCH_CYCLE[found["states"]]
        state = cycle[(cycle.index(found["state"]) + 1) % len(cycle)] if found["state"] in cycle else cycle[0]
        catalog.set_switch(self.store, self.bus, found["name"], state)
        return found["name"], state

    # -- voicemail mail -----------------------------------------------------------------
    def voicemail_recipients(self, extension: str) -> list[str]:
        """The mailbox owner's email and those of users subscribed to the box (seed:
        "Boîte vocale partagée")."""
        rows = self.store.all(
            "SELECT email FROM users WHERE extension = ? AND email IS NOT NULL AND email != ''"
            " UNION SELECT u.email FROM voicemail_subscriptions s JOIN users u ON u.id = s.user_id"
            " WHERE s.mailbox = ? AND u.email IS NOT NULL AND u.email != ''", (extension, extension))
        return sorted({r["email"] for r in rows})

    async def mail_voicemail(self, message: VoicemailMessage) -> list[str]:
        """Mail ``message`` with its audio attached to every recipient; returns who got it.
        A failure is logged per recipient and the message stays in the box."""
        from wpbxd.services import smtp
        recipients = self.voicemail_recipients(message.mailbox)
        profile = smtp.get_profile(self.store)
        if not recipients or not profile.configured:
            return []
        subject, body, filename = notice_mail(message)
        audio = self.mailbox(message.mailbox).audio(message.id).read_bytes()
        loop = asyncio.get_running_loop()
        sent = []
        for to in recipients:
            try:
                await loop.run_in_executor(None, lambda to=to: smtp.send_mail(
                    profile, to, subject, body, attachments=[(filename, audio, "audio/wav")]))
                sent.append(to)
            except UserError as err:
                log.warning("voicemail %s: mail to %s failed: %s", message.mailbox, to, err)
        return sent


def subscribe_voicemail(store: Store, bus: EventBus | None, user_extension: str, mailbox: str) -> None:
    """Shared voicemail (user preference): ``user_extension`` also gets ``mailbox``'s messages."""
    with store.transaction():
        user = store.one("SELECT id FROM users WHERE extension = ?", (user_extension,))
        if user is None:
            raise NotFound(f"no user with extension {user_extension!r}")
        if store.one("SELECT 1 FROM users WHERE extension = ?", (mailbox,)) is None:
            raise NotFound(f"no mailbox {mailbox!r}")
        store.execute("INSERT OR IGNORE INTO voicemail_subscriptions(user_id, mailbox) VALUES (?, ?)",
                      (user["id"], mailbox))
    if bus is not None:
        bus.publish(ConfigChanged("voicemail", user_extension))


def unsubscribe_voicemail(store: Store, bus: EventBus | None, user_extension: str, mailbox: str) -> None:
    with store.transaction():
        store.execute("DELETE FROM voicemail_subscriptions WHERE mailbox = ? AND user_id ="
                      " (SELECT id FROM users WHERE extension = ?)", (mailbox, user_extension))
    if bus is not None:
        bus.publish(ConfigChanged("voicemail", user_extension))
