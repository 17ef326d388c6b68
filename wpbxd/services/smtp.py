"""SMTP: the PBX's mail client profile and the notifications it sends.

One profile in the store (``smtp_profile``): sender, server, port, user,
password, HELO domain, security (none / STARTTLS / TLS) and whether to verify
the server's certificate. ``send_mail`` is blocking (``smtplib``) and runs in an
executor from the daemon's loop (``send_mail_async``); ``send_test_mail`` is the
"send test mail" action. ``missed_call_mail`` words the missed-call notice.

Rule: nothing here decides *when* to notify; callers (the dialplan service on a
``MissedCall`` event) do. Errors reach users as ``UserError`` with the server's
answer, never as a traceback.
"""

import asyncio
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import UserError, ValidationError
from wpbxd.events import ConfigChanged

SECURITY = ("none", "starttls", "tls")
SEND_TIMEOUT = 20.0  # seconds for the whole SMTP conversation step
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")
HOST_RE = re.compile(r"^[A-Za-z0-9.:_-]{1,253}$")


@dataclass(frozen=True)
class SmtpProfile:
    sender: str = ""
    server: str = ""
    port: int = 25
    username: str = ""
    password: str = ""
    helo: str = ""
    security: str = "none"
    verify_tls: bool = True

    @property
    def configured(self) -> bool:
        return bool(self.server and self.sender)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["password"] = "********" if self.password else ""
        return data


class MailError(UserError):
    """The mail could not be sent; the message says what the server or network said."""


def get_profile(store: Store) -> SmtpProfile:
    row = store.one("SELECT * FROM smtp_profile WHERE id = 1")
    if row is None:
        return SmtpProfile()
    return SmtpProfile(row["sender"], row["server"], row["port"], row["username"], row["password"],
                       row["helo"], row["security"], bool(row["verify_tls"]))


def set_profile(store: Store, bus: EventBus | None, values: dict[str, Any]) -> SmtpProfile:
    """Change some fields of the profile (validated first; nothing written on error)."""
    current = asdict(get_profile(store))
    unknown = [k for k in values if k not in current]
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r} (fields: {', '.join(current)})")
    data = {**current, **{k: v for k, v in values.items() if v is not None}}
    for key in ("sender", "server", "username", "password", "helo", "security"):
        data[key] = str(data[key]).strip() if key != "password" else str(data[key])
    if data["sender"] and not EMAIL_RE.match(data["sender"]):
        raise ValidationError(f"{data['sender']!r} is not an email address", "sender")
    if data["server"] and not HOST_RE.match(data["server"]):
        raise ValidationError(f"{data['server']!r} is not a host name or address", "server")
    if data["helo"] and not HOST_RE.match(data["helo"]):
        raise ValidationError(f"{data['helo']!r} is not a domain name", "helo")
    try:
        data["port"] = int(data["port"])
    except (TypeError, ValueError):
        raise ValidationError("must be a port number", "port") from None
    if not 1 <= data["port"] <= 65535:
        raise ValidationError("must be between 1 and 65535", "port")
    if data["security"] not in SECURITY:
        raise ValidationError(f"must be one of {', '.join(SECURITY)}", "security")
    if isinstance(data["verify_tls"], str):
        data["verify_tls"] = data["verify_tls"].strip().lower() in ("1", "on", "yes", "true")
    data["verify_tls"] = int(bool(data["verify_tls"]))
    cols = ", ".join(data)
    with store.transaction():
        store.execute(f"INSERT OR REPLACE INTO smtp_profile(id, {cols}) VALUES (1, {', '.join('?' for _ in data)})",
                      tuple(data.values()))
    if bus is not None:
        bus.publish(ConfigChanged("smtp"))
    return get_profile(store)


def _tls_context(profile: SmtpProfile) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not profile.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_message(profile: SmtpProfile, to: str, subject: str, body: str,
                  attachments: Sequence[tuple[str, bytes, str]] = ()) -> EmailMessage:
    """The mail; ``attachments`` are (file name, content, MIME type) triples."""
    message = EmailMessage()
    message["From"] = profile.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=profile.helo or None)
    message.set_content(body)
    for filename, content, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return message


def send_mail(profile: SmtpProfile, to: str, subject: str, body: str,
              attachments: Sequence[tuple[str, bytes, str]] = ()) -> None:
    """Send one mail now (blocking). Raises ``MailError`` with the reason.
    ``attachments``: (file name, content, MIME type), e.g. a voicemail's WAV."""
    if not profile.configured:
        raise MailError("no SMTP server configured (set at least server and sender)")
    if not EMAIL_RE.match(to):
        raise ValidationError(f"{to!r} is not an email address", "to")
    message = build_message(profile, to, subject, body, attachments)
    helo = profile.helo or None
    try:
        if profile.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(profile.server, profile.port, local_hostname=helo,
                                                    timeout=SEND_TIMEOUT, context=_tls_context(profile))
        else:
            client = smtplib.SMTP(profile.server, profile.port, local_hostname=helo, timeout=SEND_TIMEOUT)
        with client:
            client.ehlo()
            if profile.security == "starttls":
                client.starttls(context=_tls_context(profile))
                client.ehlo()
            if profile.username:
                client.login(profile.username, profile.password)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as err:
        raise MailError(f"the SMTP server refused the login: {err.smtp_code} {_text(err.smtp_error)}") from None
    except smtplib.SMTPResponseException as err:
        raise MailError(f"the SMTP server said {err.smtp_code} {_text(err.smtp_error)}") from None
    except smtplib.SMTPRecipientsRefused as err:
        code, text = next(iter(err.recipients.values()))
        raise MailError(f"the SMTP server refused {to}: {code} {_text(text)}") from None
    except smtplib.SMTPNotSupportedError as err:
        raise MailError(f"the SMTP server does not support it: {err}") from None
    except ssl.SSLError as err:
        raise MailError(f"TLS with {profile.server}:{profile.port} failed: {err.reason or err}") from None
    except (smtplib.SMTPException, OSError) as err:
        raise MailError(f"cannot send mail through {profile.server}:{profile.port}: {err}") from None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


async def send_mail_async(profile: SmtpProfile, to: str, subject: str, body: str) -> None:
    await asyncio.get_running_loop().run_in_executor(None, send_mail, profile, to, subject, body)


def send_test_mail(profile: SmtpProfile, to: str) -> None:
    """The "send test mail" action."""
    send_mail(profile, to, "wpbx test mail",
              f"This is a test mail from your wpbx PBX, sent through {profile.server}:{profile.port}"
              f" ({profile.security}).\n")


def missed_call_mail(extension: str, caller_number: str, caller_name: str, when: float,
                     tz: Any = None) -> tuple[str, str]:
    """Subject and body of a missed-call notice."""
    who = f"{caller_name} <{caller_number}>" if caller_name else caller_number or "an unknown caller"
    stamp = datetime.fromtimestamp(when, tz).strftime("%Y-%m-%d %H:%M")
    return (f"Missed call from {caller_number or 'unknown'}",
            f"You missed a call on extension {extension}.\n\nFrom: {who}\nAt: {stamp}\n")
