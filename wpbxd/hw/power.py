"""Restart the PBX service, reboot or shut down the box, through systemd.

wpbxd runs as root on the appliance and is the one that asks systemd (control
command ``box.power``): the SSH console menu runs as the unprivileged system user
``admin``, which cannot (no D-Bus in the image, not root), and the web page runs
inside wpbxd anyway. Reboot and shut down act only on the appliance under
systemd; restarting the service needs systemd. Elsewhere the answer says why and
nothing is done.
"""

import shutil
import subprocess
from pathlib import Path

from wpbxd.errors import ValidationError

SYSTEMD_DIR = Path("/run/systemd/system")
SERVICE_UNIT = "wpbxd"
SYSTEMCTL_TIMEOUT = 30.0     # seconds
ACTIONS = {                  # action -> (label, systemctl arguments)
    "restart": ("PBX service restart", ["--no-block", "restart", SERVICE_UNIT]),
    "reboot": ("Reboot", ["reboot"]),
    "poweroff": ("Shut down", ["poweroff"]),
}


def under_systemd() -> bool:
    return SYSTEMD_DIR.is_dir() and shutil.which("systemctl") is not None


def refusal(action: str, mode: str) -> str | None:
    """Why ``action`` cannot be done here, or ``None`` when it can."""
    if action == "restart":
        if not under_systemd():
            return "wpbxd does not run under systemd here: restart it with your service manager."
        return None
    label = ACTIONS[action][0]
    if mode != "appliance" or not under_systemd():
        return f"{label} is only available on the appliance; nothing done."
    return None


def act(action: str, mode: str) -> str:
    """Ask systemd for ``action``; returns what happened, in a sentence."""
    if action not in ACTIONS:
        raise ValidationError(f"unknown action {action!r} (restart, reboot or poweroff)", "action")
    why = refusal(action, mode)
    if why is not None:
        return why
    label, args = ACTIONS[action]
    try:
        done = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{label} failed: {err}"
    if done.returncode != 0:
        return f"{label} failed: {(done.stderr or done.stdout).strip()}"
    return f"{label} in progress."
