"""Voicemail boxes on disk, and the notice mail that carries a message.

Responsible for: one folder per mailbox (``<data>/voicemail/<extension>/``)
holding each message as ``<id>.wav`` with its ``<id>.json`` (caller, time,
length, heard), listed oldest first; saving a recording made elsewhere (moved
in, never copied half-way); deleting; the text of the mail and its attachment.

Rule: plain files, no store and no network; an unreadable ``.json`` hides its
message instead of breaking the box (it is logged). Calls are few and files
small, so these blocking calls run on the loop except the mail, which the
caller sends from an executor.
"""

import json
import logging
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from wpbxd.errors import ValidationError

log = logging.getLogger(__name__)

EXTENSION_RE = re.compile(r"^[0-9A-Za-z*#+_-]{1,32}$")
GREETING = "greeting.wav"


class MailboxError(ValidationError):
    """A mailbox name or message that cannot be used."""


@dataclass(frozen=True)
class VoicemailMessage:
    id: str
    mailbox: str
    caller_number: str
    caller_name: str
    time: float           # unix seconds
    seconds: float
    heard: bool = False

    def summary(self) -> str:
        who = f"{self.caller_name} <{self.caller_number}>" if self.caller_name else self.caller_number or "unknown"
        return f"{who}, {self.seconds:.0f} s"


class Mailbox:
    def __init__(self, root: Path, extension: str) -> None:
        if not EXTENSION_RE.match(extension or ""):
            raise MailboxError(f"{extension!r} is not a mailbox number")
        self.extension = extension
        self.path = Path(root) / extension

    @property
    def greeting(self) -> Path:
        """The user's own greeting, when they recorded one."""
        return self.path / GREETING

    def new_recording_path(self) -> Path:
        """Where to record a new message (``save`` then files it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path / f".rec-{uuid.uuid4().hex}.wav"

    def save(self, recording: Path, caller_number: str, caller_name: str, seconds: float,
             when: float | None = None) -> VoicemailMessage:
        when = time.time() if when is None else when
        msg_id = datetime.fromtimestamp(when).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        message = VoicemailMessage(msg_id, self.extension, caller_number, caller_name, when, seconds)
        self.path.mkdir(parents=True, exist_ok=True)
        meta_tmp = self.path / f".{msg_id}.json.part"
        meta_tmp.write_text(json.dumps(asdict(message)))
        os.replace(recording, self.audio(msg_id))
        os.replace(meta_tmp, self.path / f"{msg_id}.json")
        return message

    def audio(self, msg_id: str) -> Path:
        return self.path / f"{msg_id}.wav"

    def messages(self) -> list[VoicemailMessage]:
        out = []
        if not self.path.is_dir():
            return out
        for meta in sorted(self.path.glob("*.json")):
            if meta.name.startswith("."):
                continue
            try:
                message = VoicemailMessage(**json.loads(meta.read_text()))
            except (ValueError, TypeError) as err:
                log.warning("voicemail %s: unreadable %s: %s", self.extension, meta.name, err)
                continue
            if self.audio(message.id).exists():
                out.append(message)
        return sorted(out, key=lambda m: m.time)

    def mark_heard(self, msg_id: str) -> None:
        meta = self.path / f"{msg_id}.json"
        data = json.loads(meta.read_text())
        data["heard"] = True
        tmp = self.path / f".{msg_id}.json.part"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, meta)

    def delete(self, msg_id: str) -> None:
        if not re.fullmatch(r"[0-9A-Za-z-]+", msg_id or ""):
            raise MailboxError(f"{msg_id!r} is not a message id")
        for path in (self.path / f"{msg_id}.json", self.audio(msg_id)):
            path.unlink(missing_ok=True)


def notice_mail(message: VoicemailMessage, tz=None) -> tuple[str, str, str]:
    """Subject, body and attachment file name of the mail announcing ``message``."""
    stamp = datetime.fromtimestamp(message.time, tz).strftime("%Y-%m-%d %H:%M")
    subject = f"New voicemail from {message.caller_number or 'unknown'} ({message.seconds:.0f} s)"
    body = (f"You have a new voicemail in mailbox {message.mailbox}.\n\n"
            f"From: {message.summary()}\nAt: {stamp}\n\nThe message is attached.\n")
    return subject, body, f"voicemail-{message.id}.wav"
