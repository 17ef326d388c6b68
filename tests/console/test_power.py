"""Restart, reboot and shut down are wpbxd's to do (``box.power``, ``hw/power.py``): the
SSH console menu runs as an unprivileged user. Off the appliance nothing is done."""

import pytest

from wpbxd.console.client import ControlError
from wpbxd.hw import power


def test_box_power_refuses_off_the_appliance_and_rejects_unknown_actions(wpbxd):
    assert wpbxd.call("box.power", {"action": "reboot"}) == "Reboot is only available on the appliance; nothing done."
    assert wpbxd.call("box.power", {"action": "poweroff"}).startswith("Shut down is only available")
    with pytest.raises(ControlError, match="unknown action 'halt'"):
        wpbxd.call("box.power", {"action": "halt"})
    assert wpbxd.call("status")["pid"]          # still running


def test_restart_needs_systemd(monkeypatch, tmp_path):
    monkeypatch.setattr(power, "SYSTEMD_DIR", tmp_path / "no-systemd")
    assert "restart it with your service manager" in power.act("restart", "appliance")
    assert power.refusal("reboot", "appliance") == "Reboot is only available on the appliance; nothing done."
