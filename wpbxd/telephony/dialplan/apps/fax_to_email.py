"""Fax to e-mail ("Fax vers e-mail"): answer the call with the PBX's fax server, receive
the fax, keep it in the storage's fax area and mail it to one or more recipients.

Recipients (``to``) are extensions and/or email addresses separated by spaces: an
extension's copy goes to that user's email address (seed: "si un numéro
d'extension (ex : 101) est spécifié, une copie du fax est envoyée à l'adresse
mail de l'utilisateur"). Every received fax is stored (``faxes/received/``, TIFF,
plus PDF when ``tiff2pdf`` is installed) and mailed through the SMTP profile.

The call must be G.711 (PCMA/PCMU): fax modems do not survive G.729. A call
already answered with G.729 is hung up with a trace. A session that fails before
the first page keeps nothing and mails nothing; one that breaks after some pages
keeps and mails those pages, saying so.

Parameters: ``to`` (required), ``max_seconds`` — longest reception (default 600).
"""

import asyncio
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wpbxd.errors import UserError, ValidationError
from wpbxd.telephony.dialplan.apps.base import STOP, Application, Step, seconds
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media import fax
from wpbxd.telephony.media.announcements import MediaUnavailable, open_media
from wpbxd.telephony.media.channel import ChannelClosed
from wpbxd.telephony.media.negotiation import FAX_CODECS

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

DEFAULT_MAX = 600                 # seconds
MAX_MAX = 3600
EXTENSION_RE = re.compile(r"^[0-9]{1,20}$")
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
FAX_IDENT = "wpbx"                # our T.30 identity (TSI/CSI), at most 20 characters


def parse_recipients(text: str) -> tuple[str, ...]:
    """The ``to`` parameter: extensions and email addresses separated by spaces (or commas)."""
    items = [item for item in text.replace(",", " ").split() if item]
    if not items:
        raise ValidationError("who gets the faxes? give extensions and/or email addresses", "to")
    for item in items:
        if not (EXTENSION_RE.match(item) or EMAIL_RE.match(item)):
            raise ValidationError(f"{item!r} is neither an extension nor an email address", "to")
    return tuple(dict.fromkeys(items))


def resolve_recipients(services: Any, wanted: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(email addresses, problems): extensions become their user's email address."""
    emails: list[str] = []
    problems: list[str] = []
    store = getattr(services, "store", None)
    for item in wanted:
        if "@" in item:
            emails.append(item)
            continue
        row = store.one("SELECT email FROM users WHERE extension = ?", (item,)) if store is not None else None
        if row is None:
            problems.append(f"no user {item}")
        elif not row["email"]:
            problems.append(f"user {item} has no email address")
        else:
            emails.append(row["email"])
    return list(dict.fromkeys(emails)), problems


class FaxToEmail(Application):
    name = "fax_to_email"
    description = "Fax to e-mail"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"to": " ".join(parse_recipients(str(params.get("to") or ""))),
                "max_seconds": seconds(params, "max_seconds", 30, MAX_MAX, DEFAULT_MAX)}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        try:
            fax.spandsp()
        except fax.FaxUnavailable as err:
            env.trace(f"fax to e-mail: {err}")
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        services = getattr(ctx, "services", None)
        data_dir = getattr(services, "data_dir", None)
        if data_dir is None:
            env.trace("fax to e-mail: this PBX has no storage for faxes")
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        try:
            media = await open_media(ctx, env, codecs=FAX_CODECS)
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        except ChannelClosed:
            return STOP
        channel = media.channel
        codec = channel.negotiated.codec if channel.negotiated is not None else "?"
        if codec not in FAX_CODECS:
            env.trace(f"fax to e-mail: the call is {codec}; a fax needs G.711 (PCMA/PCMU)")
            await env.hangup(ctx, 488, "Not Acceptable Here")
            return STOP
        with tempfile.TemporaryDirectory(prefix="wpbx-fax-") as spool:
            received = Path(spool) / "fax.tif"
            result = await self._receive(channel, received, env)
            if result is None:
                return STOP
            if not channel.closed:
                await env.hangup(ctx, 200, "fax received" if result.ok else "fax failed")
            return await self._keep_and_mail(ctx, env, services, received, result)

    async def _receive(self, channel: Any, path: Path, env: "RunEnv") -> fax.FaxResult | None:
        """Run the T.30 session on the channel; the closed terminal's result (TIFF complete)."""
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        try:
            receiver = fax.FaxReceiver(path, ident=FAX_IDENT)
        except fax.FaxUnavailable as err:
            env.trace(f"fax to e-mail: {err}")
            return None
        receiver.on_finished = lambda: finished.done() or finished.set_result(None)
        env.trace("fax to e-mail: receiving")
        started = loop.time()
        why = "the caller hung up before the fax ended"
        try:
            channel.set_processor(receiver)
            closed = asyncio.ensure_future(channel.wait_closed())
            done, _ = await asyncio.wait({finished, closed}, timeout=self.params["max_seconds"],
                                         return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            if not done:
                why = f"no end after {self.params['max_seconds']:g} s"
        except ChannelClosed:
            pass
        finally:
            if not channel.closed:
                channel.set_processor(None)
            result = receiver.result(why)
            receiver.close()
        seconds_taken = loop.time() - started
        if result.ok:
            env.trace(f"fax received: {result.pages} page(s) from {result.remote_ident or 'unnamed sender'}"
                      f" at {result.bit_rate} bit/s in {seconds_taken:.0f} s")
        else:
            error = f"T.30 error: {result.reason}" if result.completion is not None else result.reason
            env.trace(f"fax failed: {error}; {result.pages} page(s) received")
        return result

    async def _keep_and_mail(self, ctx: CallContext, env: "RunEnv", services: Any, received: Path,
                             result: fax.FaxResult) -> Step:
        loop = asyncio.get_running_loop()
        try:
            stored = await loop.run_in_executor(None, fax.store_fax, Path(services.data_dir), received, result,
                                                ctx.caller_number, time.time())
        except (UserError, OSError) as err:
            env.trace(f"fax not kept: {err}")
            return STOP
        if stored is None:
            env.trace("fax to e-mail: no page arrived; nothing kept, nothing mailed")
            return STOP
        env.trace(f"fax kept: {stored.tiff.name}" + (f" and {stored.pdf.name}" if stored.pdf else ""))
        emails, problems = resolve_recipients(services, tuple(self.params["to"].split()))
        for problem in problems:
            env.trace(f"fax to e-mail: {problem}: no copy for them")
        sent, failures = await mail_fax(services, stored, emails)
        for failure in failures:
            env.trace(f"fax to e-mail: {failure}")
        env.trace(f"fax mailed to {', '.join(sent)}" if sent else "fax to e-mail: mailed to nobody")
        return STOP


async def mail_fax(services: Any, stored: fax.StoredFax, emails: list[str]) -> tuple[list[str], list[str]]:
    """Mail ``stored`` to each address through the SMTP profile (in an executor);
    (who got it, why others did not)."""
    from wpbxd.services import smtp
    store = getattr(services, "store", None)
    if store is None or not emails:
        return [], []
    profile = smtp.get_profile(store)
    if not profile.configured:
        return [], ["no SMTP server configured (System -> SMTP client)"]
    loop = asyncio.get_running_loop()
    subject, body = stored.mail()
    attachment = await loop.run_in_executor(None, stored.attachment)
    sent, failures = [], []
    for to in emails:
        try:
            await loop.run_in_executor(None, lambda to=to: smtp.send_mail(profile, to, subject, body,
                                                                          attachments=[attachment]))
            sent.append(to)
        except UserError as err:
            failures.append(f"mail to {to} failed: {err}")
    return sent, failures
