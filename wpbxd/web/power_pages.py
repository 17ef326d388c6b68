"""Reboot / Shutdown page (seed: secondary menu item 13), for the super admin only.

A confirmation form (choice + an explicit confirmation box, CSRF as every form);
it acts only on the appliance under systemd (``hw.power``: ``systemctl
reboot|poweroff``, as the console menu asks wpbxd to). Elsewhere the page says so and does nothing.
"""

import bottle

from wpbxd.web import access
from wpbxd.web.kit import Kit, form

ACTIONS = {"reboot": ("Reboot", "reboot"), "shutdown": ("Shut down", "poweroff")}
MODE_TTL = 60.0  # seconds the daemon's mode (from ``status``) is reused


def install(app: bottle.Bottle, kit: Kit) -> None:
    env, page, render, me = kit.env, kit.page, kit.render, kit.me

    def possible() -> tuple[bool, str]:
        try:
            mode = str(env.cached("status", MODE_TTL).get("mode") or "host")
        except Exception:
            mode = "host"
        if mode != "appliance":
            return False, f"This wpbx runs in {mode} mode, not on the appliance: reboot and shut down do nothing here."
        if not power.under_systemd():
            return False, "This appliance is not running under systemd: reboot and shut down do nothing here."
        return True, ""

    @app.route("/power", method=["GET", "POST"])
    @page
    def power() -> str:
        access.check_super(me(), "reboot or shut down the PBX")
        able, why = possible()
        errors: dict[str, str] = {}
        values = {"action": "", "confirm": False}
        result = ""
        if bottle.request.method == "POST":
            f = form()
            values = {"action": f.get("action", ""), "confirm": bool(f.get("confirm"))}
            if values["action"] not in ACTIONS:
                errors["action"] = "choose reboot or shut down"
            if not values["confirm"]:
                errors["confirm"] = "tick the box to confirm (calls in progress are cut)"
            if errors:
                bottle.response.status = 400
            elif not able:
                result = why + " Nothing done."
            else:
                result = power.act(ACTIONS[values["action"]][1], "appliance")
        return render("power", "Reboot / Shut down", "power", able=able, why=why, errors=errors,
                      values=values, result=result, actions=ACTIONS)
