"""Settings > Update (seed: "Outils et Utilitaires" > "Mise à jour"): the running
version and slots, the last upgrade's result, an upgrade's progress while it runs,
a bundle upload, update repositories (rel380 / rel40: a name for a directory of
bundles) and "check" / "update" from one of them.

Every action is an ``upgrade.*`` control command of the upgrade service, which owns
the bundle checks (signature, version, backup) and the slots. This module only
stores an uploaded bundle in the data directory for the service to read.
"""

import datetime
from pathlib import Path

import bottle

from wpbxd.errors import UserError
from wpbxd.web import access
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import Kit

FEATURE = "upgrade.install"
UPLOAD_DIR = "upgrade"
UPLOAD_NAME = "upload.wpbx"
RUNNING_STATES = ("verifying", "writing", "rebooting")
REFRESH = 3  # seconds between reloads of the page while an upgrade runs


def install(app: bottle.Bottle, kit: Kit) -> None:
    env, page, render, flash, groups = kit.env, kit.page, kit.render, kit.flash, kit.groups

    def menu() -> list[tuple[str, str]]:
        listed = groups()
        return listed if any(g == "update" for g, _ in listed) else [*listed, ("update", "Update")]

    def show(errors: dict[str, str] | None = None, result: dict | None = None) -> str:
        if FEATURE not in env.commands():
            raise FeatureMissing("upgrades are not available")
        status = env.call("upgrade.status")
        progress = status["progress"]
        return render("upgrade", "Update", "settings", groups=menu(), group="update", status=status,
                      progress=progress, running=progress["state"] in RUNNING_STATES, refresh=REFRESH,
                      repositories=env.call("upgrade.repo.list"), errors=errors or {}, result=result or {})

    @app.get("/settings/update")
    @page
    def update() -> str:
        return show()

    @app.get("/settings/update/progress")
    @page
    def update_progress() -> dict:
        if FEATURE not in env.commands():
            raise FeatureMissing("upgrades are not available")
        return env.call("upgrade.status")["progress"]

    @app.post("/settings/update")
    @page
    def update_change() -> str:
        access.check_super(kit.me(), "upgrade the system")
        f = bottle.request.forms.decode()
        action = f.get("action", "")
        backup = bool(f.get("backup"))
        try:
            if action == "upload":
                upload = bottle.request.files.get("bundle")
                if upload is None or not upload.raw_filename:
                    bottle.response.status = 400
                    return show({"bundle": "choose an update bundle (.wpbx) to upload"})
                folder = Path(env.data_dir) / UPLOAD_DIR
                folder.mkdir(parents=True, exist_ok=True)
                target = folder / UPLOAD_NAME
                upload.save(str(target), overwrite=True)
                try:
                    started = env.call("upgrade.install", {"file": str(target), "backup": backup,
                                                           "remove_after": True})
                except UserError:
                    target.unlink(missing_ok=True)
                    raise
            elif action == "install":
                started = env.call("upgrade.install", {"repository": f.get("repository", ""), "backup": backup})
            elif action == "check":
                found = env.call("upgrade.check", {"repository": f.get("repository", "")})
                return show(result=found)
            elif action == "repo_add":
                env.call("upgrade.repo.add", {"name": f.get("name", ""), "location": f.get("location", "")})
                flash(f"Repository {f.get('name')} saved.")
                bottle.redirect("/settings/update", 303)
            elif action == "repo_del":
                env.call("upgrade.repo.del", {"name": f.get("name", "")})
                flash(f"Repository {f.get('name')} deleted.")
                bottle.redirect("/settings/update", 303)
            else:
                bottle.abort(400, "unknown action")
        except UserError as err:
            bottle.response.status = 400
            field = getattr(err, "field", None)
            key = "bundle" if action == "upload" else (field if field in ("name", "location") else action or "_")
            return show({key: str(err)})
        stamp = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S UTC")
        flash(f"Installing version {started['version']} into slot {started['slot'].upper()} "
              f"(backup {started['backup']}), started {stamp}; the box restarts when it is written.")
        bottle.redirect("/settings/update", 303)
