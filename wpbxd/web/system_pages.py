"""System pages: Info (CPU, memory and storage gauges, counts, board sensors), the
blocked-ports detail, and Devices (known phones by MAC, DHCP leases).

Readings come from ``system.py`` and the networking / sensors services' commands.
"""


import bottle

from wpbxd import __version__
from wpbxd.errors import UserError
from wpbxd.web import svg, system
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import Kit, form
from wpbxd.web.user_pages import registered_extensions


def install(app: bottle.Bottle, kit: Kit) -> None:
    env = kit.env
    store = kit.env.store
    page = kit.page
    render = kit.render
    flash = kit.flash

    @app.get("/info")
    @page
    def info() -> str:
        pictures = []
        cpu = env.cpu.ratio()
        if cpu is not None:
            pictures.append(svg.gauge("CPU", cpu, f"{cpu:.0%}"))
        mem = system.memory()
        if mem:
            pictures.append(svg.gauge("Memory", mem.ratio, f"{system.human_bytes(mem.used)}"))
        disk = system.storage(env.data_dir)
        if disk:
            pictures.append(svg.gauge("Storage", disk.ratio, f"{disk.ratio:.0%}"))
        counts = []
        cmds = env.commands()
        if "calls.list" in cmds:
            counts.append(("Active calls", len(env.call("calls.list") or []), "/debug"))
        if "registrations.list" in cmds:
            counts.append(("Registrations", len(registered_extensions(env)), "/users"))
        counts.append(("Users", store.one("SELECT COUNT(*) AS n FROM users")["n"], "/users"))
        sensors = []
        if "hw.sensors" in cmds:
            for reading in env.call("hw.sensors") or []:
                value = reading.get("value")
                text = f"{value:g} {reading.get('unit', '')}" if value is not None else (reading.get("error") or "no reading")
                sensors.append((reading.get("name", "?"), text))
        if "storage.status" in cmds:
            where = env.call("storage.status")
            device = f" ({where['device']})" if where.get("device") else ""
            sensors.append(("Recordings and backups on", f"{where.get('storage', '?')} storage{device}"))
        details = [("Version", __version__), ("Data", str(env.data_dir))]
        if "box.info" in cmds and kit.me().is_super_admin:
            # printed on the box label; the serial console's Recover system asks for it
            details.append(("Recovery code (box label)", env.call("box.info").get("recovery_code", "?")))
        if mem:
            details.append(("Memory", f"{system.human_bytes(mem.used)} of {system.human_bytes(mem.total)}"))
        if disk:
            details.append(("Storage", f"{system.human_bytes(disk.used)} of {system.human_bytes(disk.total)}"))
        return render("info", "Info", "info", pictures=pictures, counts=counts, details=details + sensors)

    @app.get("/ports")
    @page
    def ports() -> str:
        return render("ports", "Blocked ports", "ports", ports=env.call("net.ports"))

    @app.route("/devices", method=["GET", "POST"])
    @page
    def devices() -> str:
        if "dhcp.device.list" not in env.commands():
            raise FeatureMissing("devices are not available")
        errors: dict[str, str] = {}
        values = {"mac": "", "name": "", "model": ""}
        if bottle.request.method == "POST":
            f = form()
            try:
                if f.get("delete"):
                    env.call("dhcp.device.del", {"mac": f.get("delete")})
                    flash(f"Device {f.get('delete')} removed.")
                else:
                    values = {k: f.get(k, "") for k in values}
                    device = env.call("dhcp.device.add", values)
                    flash(f"Device {device['mac']} saved.")
            except UserError as err:
                field = getattr(err, "field", None)
                errors[field if field in values else "mac"] = getattr(err, "message", str(err))
            else:
                bottle.redirect("/devices", 303)
        leases = env.call("dhcp.leases") if "dhcp.leases" in env.commands() else []
        return render("devices", "Devices", "devices", devices=env.call("dhcp.device.list"),
                      leases=leases, values=values, errors=errors)
