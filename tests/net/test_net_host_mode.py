"""The net service in host mode: commands work, no interface is touched (issue 6)."""

import json


def test_host_mode_shows_state_and_refuses_to_apply(wpbxd):
    shown = wpbxd.call("net.show")
    assert shown["managing"] is False
    assert "live" not in shown, "host mode reads nothing from the kernel"
    assert [p["mode"] for p in shown["desired"]["ports"]] == ["dhcp", "static", "disabled", "disabled"]
    result = wpbxd.ctl("net", "apply", check=False)
    assert result.returncode == 1 and "host mode" in result.stderr
    assert "managing interfaces: no" in wpbxd.ctl("net", "show").stdout


def test_invalid_settings_are_refused_and_lose_nothing(wpbxd):
    wpbxd.ctl("dhcp", "set", "--domain", "office.lan", "--ntp", "10.135.0.1")
    bad = wpbxd.ctl("dhcp", "set", "--range-start", "192.168.5.10", check=False)
    assert bad.returncode == 1 and "outside the LAN subnet" in bad.stderr
    bad = wpbxd.ctl("net", "set", "eth1", "--gateway", "10.135.0.254", check=False)
    assert "more than one default route" in bad.stderr
    desired = json.loads(wpbxd.ctl("net", "show", "--json").stdout)["desired"]
    assert desired["dhcp"]["domain"] == "office.lan"
    assert desired["dhcp"]["range_start"] == "10.135.0.100"


def test_scenario_and_known_devices_commands(wpbxd):
    wpbxd.ctl("net", "scenario", "shaper")
    wpbxd.ctl("net", "shaper", "--upload-kbit", "1000", "--download-kbit", "4000")
    desired = wpbxd.call("net.show")["desired"]
    assert desired["scenario"] == "shaper" and desired["shaper"]["upload_kbit"] == 1000
    wpbxd.ctl("dhcp", "device", "add", "02-00-00-AA-BB-CC", "--name", "desk phone")
    assert json.loads(wpbxd.ctl("dhcp", "device", "list", "--json").stdout) == [
        {"mac": "02:00:00:aa:bb:cc", "name": "desk phone", "model": ""}]
    assert "not a MAC" in wpbxd.ctl("dhcp", "device", "add", "nonsense", check=False).stderr
    assert json.loads(wpbxd.ctl("dhcp", "leases", "--json").stdout) == []


def test_ports_check_reports_the_sip_and_web_ports(wpbxd):
    result = wpbxd.call("net.ports")
    assert [(p["name"], p["proto"], p["port"]) for p in result["ports"]] == [
        ("SIP", "udp", wpbxd.sip_port), ("SIP", "tcp", wpbxd.sip_port), ("web and provisioning", "tcp", wpbxd.web_port)]
    assert result["status"] in ("green", "yellow", "red")
    assert "status:" in wpbxd.ctl("net", "ports").stdout
