"""Settings > Backup (seed: "Outils et Utilitaires" > backup): backups on the box,
create / verify / restore, and schedules (daily, weekly, monthly; local, FTP, share, email).

Every action is a ``backup.*`` control command of the backup service, which owns
the archive format, the checks and the schedule rules. A restore needs an
explicit confirmation box ticked.
"""

import datetime

import bottle

from wpbxd.errors import UserError
from wpbxd.web import access
from wpbxd.web.kit import Kit

FEATURE = "backup.create"
FREQUENCIES = ("daily", "weekly", "monthly")
TARGETS = ("local", "ftp", "share", "email")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SCHEDULE_FORM = ("frequency", "hour", "minute", "weekday", "monthday", "target", "keep",
                 "ftp_host", "ftp_port", "ftp_user", "ftp_password", "ftp_dir", "share", "email_to")


def when(seconds: float | None) -> str:
    if not seconds:
        return "never"
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def install(app: bottle.Bottle, kit: Kit) -> None:
    env, page, render, flash, groups = kit.env, kit.page, kit.render, kit.flash, kit.groups

    def check_super(what: str) -> None:
        access.check_super(kit.me(), what)
    def show(errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
             result: str = "") -> str:
        if FEATURE not in env.commands():
            from wpbxd.web.features import FeatureMissing

            raise FeatureMissing("backups are not available")
        return render("backup", "Backup", "settings", groups=groups(), group="backup",
                      backups=env.call("backup.list"), schedules=env.call("backup.schedule.list"),
                      errors=errors or {}, values=values or {"frequency": "daily", "hour": "2", "minute": "0",
                                                             "target": "local", "keep": "7"},
                      result=result, when=when, frequencies=FREQUENCIES, targets=TARGETS,
                      weekdays=WEEKDAYS)

    @app.get("/settings/backup")
    @page
    def backup() -> str:
        return show()

    @app.post("/settings/backup")
    @page
    def backup_change() -> str:
        check_super("manage backups")
        f = bottle.request.forms.decode()
        action = f.get("action", "")
        name = f.get("backup", "")
        try:
            if action == "create":
                info = env.call("backup.create")
                message = f"Backup {info['name']} created ({info['files']} files)."
            elif action == "verify":
                info = env.call("backup.verify", {"backup": name})
                message = f"Backup {info['backup']} is intact ({info['files']} files)."
            elif action == "restore":
                if not f.get("confirm"):
                    bottle.response.status = 400
                    return show({f"restore:{name}": "tick the box to confirm: the current configuration is replaced"})
                env.call("backup.restore", {"backup": name})
                message = f"Backup {name} restored."
            elif action == "schedule_add":
                values = {k: f.get(k, "") for k in SCHEDULE_FORM}
                args = {k: v for k, v in values.items() if v != ""}
                args["enabled"] = bool(f.get("enabled"))
                try:
                    env.call("backup.schedule.add", args)
                except UserError as err:
                    bottle.response.status = 400
                    return show({getattr(err, "field", None) or "_": getattr(err, "message", str(err))},
                                {**values, "enabled": f.get("enabled", "")})
                message = "Backup schedule added."
            elif action == "schedule_del":
                env.call("backup.schedule.del", {"id": f.get("id", "")})
                message = "Backup schedule deleted."
            elif action == "schedule_run":
                message = str(env.call("backup.schedule.run", {"id": f.get("id", "")}))
            else:
                bottle.abort(400, "unknown action")
        except UserError as err:
            bottle.response.status = 400
            return show({f"{action}:{name}" if name else "_": str(err)})
        flash(message)
        bottle.redirect("/settings/backup", 303)
