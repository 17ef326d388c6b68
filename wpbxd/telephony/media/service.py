"""The media service: system prompts ready, feature codes seeded, sounds and voicemail commands.

Responsible for: at start, generating the system prompts of the enabled sound
packages (espeak-ng + sox, in an executor, cached; a missing tool is reported
once and calls simply skip prompts), seeding the feature codes into
``pbxinternal`` once (``features.install_feature_codes``), regenerating prompts
when the admin enables another package, and the control commands
``sounds.list``, ``sounds.upload`` (base64 data; mp3, wav or alaw converted with
sox), ``sounds.delete``, ``voicemail.list``, ``voicemail.subscribe`` and
``voicemail.unsubscribe``.

It holds no call state: calls get their media from the call engine.
"""

import asyncio
import base64
import binascii
import logging
from typing import Any

from wpbxd.errors import UserError, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.telephony.media.features import install_feature_codes
from wpbxd.telephony.media.services import (
    PbxMediaServices,
    subscribe_voicemail,
    unsubscribe_voicemail,
)

log = logging.getLogger(__name__)


class MediaService:
    name = "media"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.services: PbxMediaServices | None = None
        self.prompts_ready = False
        self.prompt_error = ""
        self._build: asyncio.Task | None = None
        self._unsubscribe: list = []

    async def start(self) -> None:
        ctx = self.ctx
        self.services = PbxMediaServices(ctx.store, ctx.bus, ctx.config.data_dir)
        added = install_feature_codes(ctx.store, ctx.bus)
        if added:
            log.info("media: feature codes %s added to pbxinternal", ", ".join(added))
        self._build = asyncio.get_running_loop().create_task(self._build_prompts())
        self._unsubscribe.append(ctx.bus.subscribe(ConfigChanged, self._on_config))
        control = ctx.control
        control.register("sounds.list", self._cmd_list)
        control.register("sounds.upload", self._cmd_upload)
        control.register("sounds.delete", self._cmd_delete)
        control.register("voicemail.list", self._cmd_voicemail)
        control.register("voicemail.subscribe", self._cmd_subscribe)
        control.register("voicemail.unsubscribe", self._cmd_unsubscribe)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._build is not None and not self._build.done():
            self._build.cancel()

    def apply(self, config: DaemonConfig) -> None:
        pass

    def describe(self) -> list[str]:
        if self.services is None:
            return []
        library = self.services.sounds
        state = "ready" if self.prompts_ready else (self.prompt_error or "being generated")
        return [f"media: prompts {', '.join(library.packages)} ({state}), "
                f"default language {library.default_language}, tone zone {self.services.tone_zone}"]

    def status(self) -> dict[str, Any]:
        return {"prompts_ready": self.prompts_ready, "prompt_error": self.prompt_error}

    # -- prompts ----------------------------------------------------------------------
    async def _build_prompts(self) -> None:
        assert self.services is not None
        library = self.services.sounds
        try:
            written = await asyncio.get_running_loop().run_in_executor(None, library.build)
        except UserError as err:
            self.prompt_error = str(err)
            log.warning("media: system prompts not generated: %s", err)
            return
        self.prompts_ready = True
        if written:
            log.info("media: %d system prompt(s) generated (%s)", written, ", ".join(library.packages))

    def _on_config(self, event: ConfigChanged) -> None:
        if event.section == "settings" and event.key in (None, "pbx.sound_packages", "pbx.language"):
            if self._build is None or self._build.done():
                self._build = asyncio.get_running_loop().create_task(self._build_prompts())

    # -- commands -------------------------------------------------------------------------
    def _library(self):
        if self.services is None:
            raise UserError("the media service is not running")
        return self.services.sounds

    def _cmd_list(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"name": s.name, "seconds": round(s.seconds, 2)} for s in self._library().list()]

    async def _cmd_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        library = self._library()
        try:
            data = base64.b64decode(str(args.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("the file content is not valid base64", "data") from None
        name, filename = str(args.get("name") or ""), str(args.get("filename") or "")
        info = await asyncio.get_running_loop().run_in_executor(
            None, library.import_upload, name, filename, data)
        self.ctx.bus.publish(ConfigChanged("sounds", info.name))
        return {"name": info.name, "seconds": round(info.seconds, 2)}

    def _cmd_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        self._library().delete(name)
        self.ctx.bus.publish(ConfigChanged("sounds", name))
        return {"deleted": name}

    def _cmd_voicemail(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        if self.services is None:
            raise UserError("the media service is not running")
        box = self.services.mailbox(str(args.get("extension") or ""))
        return [{"id": m.id, "caller": m.caller_number, "caller_name": m.caller_name, "time": m.time,
                 "seconds": round(m.seconds, 1), "heard": m.heard} for m in box.messages()]

    def _cmd_subscribe(self, args: dict[str, Any]) -> dict[str, Any]:
        subscribe_voicemail(self.ctx.store, self.ctx.bus, str(args.get("user") or ""), str(args.get("mailbox") or ""))
        return {"ok": True}

    def _cmd_unsubscribe(self, args: dict[str, Any]) -> dict[str, Any]:
        unsubscribe_voicemail(self.ctx.store, self.ctx.bus, str(args.get("user") or ""),
                              str(args.get("mailbox") or ""))
        return {"ok": True}
