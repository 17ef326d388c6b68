"""Settings > Network (seed: "Configuration du réseau"): scenario, ports, DHCP server,
shaper, and the safe apply (changes roll back unless confirmed in time).

Every change is a ``net.*`` control command; validation and the rollback live in
the networking service. Field names are the model's (``eth0.address``,
``dhcp.range_start``) so its errors land next to the right input.
"""

from typing import Any

import bottle

from wpbxd.errors import UserError
from wpbxd.net.model import MODES, PORTS, SCENARIOS
from wpbxd.web.kit import Kit

DHCP_FIELDS = ("range_start", "range_end", "gateway", "dns", "lease_minutes", "provisioning_url")
LIST_FIELDS = ("dns",)


def _split(text: str) -> list[str]:
    return [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]


def document(f: bottle.FormsDict) -> dict[str, Any]:
    """The ``net.set`` document of the submitted form."""
    ports = {}
    for name in PORTS:
        ports[name] = {"mode": f.get(f"{name}.mode", ""), "address": f.get(f"{name}.address", "").strip(),
                       "gateway": f.get(f"{name}.gateway", "").strip(), "dns": _split(f.get(f"{name}.dns", ""))}
    dhcp: dict[str, Any] = {"enabled": bool(f.get("dhcp.enabled")), "refuse_unknown": bool(f.get("dhcp.refuse_unknown"))}
    for key in DHCP_FIELDS:
        value = f.get(f"dhcp.{key}", "").strip()
        dhcp[key] = _split(value) if key in LIST_FIELDS else value
    shaper = {"enabled": bool(f.get("shaper.enabled")), "upload_kbit": f.get("shaper.upload_kbit", "").strip() or 0,
              "download_kbit": f.get("shaper.download_kbit", "").strip() or 0}
    return {"hostname": f.get("hostname", "").strip(), "confirm_timeout": f.get("confirm_timeout", "").strip(),
            "ports": ports, "dhcp": dhcp, "shaper": shaper}


def form_values(state: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"hostname": state["hostname"], "confirm_timeout": str(state["confirm_timeout"]),
                              "scenario": state["scenario"]}
    for port in state["ports"]:
        for key in ("mode", "address", "gateway"):
            values[f"{port['name']}.{key}"] = port.get(key, "")
        values[f"{port['name']}.dns"] = ", ".join(port.get("dns", []))
    for key in DHCP_FIELDS:
        value = state["dhcp"].get(key, "")
        values[f"dhcp.{key}"] = ", ".join(value) if isinstance(value, list) else str(value)
    values["dhcp.enabled"] = state["dhcp"].get("enabled", False)
    values["dhcp.refuse_unknown"] = state["dhcp"].get("refuse_unknown", False)
    for key in ("enabled", "upload_kbit", "download_kbit"):
        values[f"shaper.{key}"] = state["shaper"].get(key)
    return values


def install(app: bottle.Bottle, kit: Kit) -> None:
    env, page, render, flash, groups = kit.env, kit.page, kit.render, kit.flash, kit.groups
    def show(values: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> str:
        if "net.show" not in env.commands():
            from wpbxd.web.features import FeatureMissing

            raise FeatureMissing("network settings are not available")
        current = env.call("net.show")
        return render("network", "Network", "settings", groups=groups(), group="network",
                      net=current, values=values or form_values(current["desired"]), errors=errors or {},
                      modes=MODES, ports=PORTS, scenarios=SCENARIOS, dhcp_fields=DHCP_FIELDS)

    @app.get("/settings/network")
    @page
    def network() -> str:
        return show()

    @app.post("/settings/network")
    @page
    def network_change() -> str:
        f = bottle.request.forms.decode()
        action = f.get("action", "save")
        try:
            if action == "scenario":
                env.call("net.scenario", {"name": f.get("scenario", "")})
                message = f"Scenario {f.get('scenario', '')} prepared: check the ports, then apply."
            elif action == "apply":
                result = env.call("net.apply", {})
                within = result.get("confirm_within")
                message = (f"Applied: confirm within {round(within)} s or the previous settings come back."
                           if within else "Applied: nothing changed.")
            elif action == "confirm":
                env.call("net.confirm", {})
                message = "Network settings confirmed."
            else:
                env.call("net.set", document(f))
                message = "Network settings saved (not applied yet)."
        except UserError as err:
            bottle.response.status = 400
            field = getattr(err, "field", None) or "_"
            values = None
            if action == "save":
                values = {k: f.get(k, "") for k in f.keys()}
                values.update({k: bool(f.get(k)) for k in ("dhcp.enabled", "dhcp.refuse_unknown", "shaper.enabled")})
                values.setdefault("scenario", "")
            return show(values, {field: getattr(err, "message", str(err))})
        flash(message)
        bottle.redirect("/settings/network", 303)
