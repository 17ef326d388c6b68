"""Sounds (seed: secondary menu item 10, "Enregistrement et lecture des messages
audios"): the admin's own sounds — music on hold, messages — uploaded as mp3, wav
or alaw, or recorded by phone (``originate_pages``: the PBX calls the admin's
extension), listened to, deleted.

Uploads go through ``SoundLibrary.import_upload`` (format checks and the sox
conversion are the library's); this page runs in a web worker thread, so the
blocking conversion never touches the daemon's loop.
"""

import importlib.util
import shutil
from typing import Any

import bottle

from wpbxd.config import settings
from wpbxd.errors import NotFound, UserError
from wpbxd.web.kit import Kit


def available() -> bool:
    return importlib.util.find_spec("wpbxd.sounds.library") is not None and shutil.which("sox") is not None


def install(app: bottle.Bottle, kit: Kit) -> None:
    env, page, render, flash = kit.env, kit.page, kit.render, kit.flash
    def library() -> Any:
        if not available():
            from wpbxd.web.features import FeatureMissing

            raise FeatureMissing("sounds are not available (the sound library or sox is missing)")
        from wpbxd.sounds.library import SoundLibrary

        values = settings.get_all(env.store)
        packages = tuple(p for p in str(values.get("pbx.sound_packages", "en")).split(",") if p)
        from wpbxd.hw import areas

        # the same folder the media service plays from (it follows the USB key)
        return SoundLibrary(areas.area_path(env.data_dir, "sounds"), str(values["pbx.language"]),
                            packages or ("en",))

    def show(errors: dict[str, str] | None = None, name: str = "") -> str:
        return render("sounds", "Sounds", "sounds", sounds=library().list(), errors=errors or {}, name=name,
                      recordable="sounds.record" in env.commands())

    @app.get("/sounds")
    @page
    def sounds() -> str:
        return show()

    @app.post("/sounds")
    @page
    def sounds_change() -> str:
        lib = library()
        f = bottle.request.forms.decode()
        if f.get("delete"):
            try:
                lib.delete(f.get("delete"))
            except UserError as err:
                bottle.response.status = 400
                return show({"_": str(err)})
            flash(f"Sound {f.get('delete')} deleted.")
            bottle.redirect("/sounds", 303)
        name = f.get("name", "")
        upload = bottle.request.files.get("file")
        try:
            if upload is None:
                from wpbxd.sounds.library import SoundError

                raise SoundError("choose a file to upload", "file")
            info = lib.import_upload(name, upload.raw_filename, upload.file.read())
        except UserError as err:
            bottle.response.status = 400
            field = getattr(err, "field", None)
            return show({field if field in ("name", "file") else "_": getattr(err, "message", str(err))}, name)
        flash(f"Sound {info.name} saved ({info.seconds:.1f} s).")
        bottle.redirect("/sounds", 303)

    @app.get("/sounds/<name>.wav")
    @page
    def sound_file(name: str) -> Any:
        for info in library().list():
            if info.name == name:
                return bottle.static_file(info.path.name, root=str(info.path.parent), mimetype="audio/wav")
        raise NotFound(f"no sound {name!r}")
