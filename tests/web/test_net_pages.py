"""Devices (known phones by MAC, DHCP leases) and the blocked-ports indicator (seed:
"Introduction à WMS", secondary menu item 6) over the networking service's commands."""

import pytest


@pytest.fixture
def admin(web):
    if "dhcp.device.list" not in web.daemon.call("help"):
        pytest.skip("the networking service is not in this daemon")
    return web.admin()


def test_devices_are_added_validated_and_removed(web, admin):
    r = web.post(admin, "/devices", {"mac": "not-a-mac", "name": "Desk", "model": "WP480"})
    assert r.status_code == 200 and 'id="f-mac-err"' in r.text and 'value="Desk"' in r.text
    assert web.daemon.call("dhcp.device.list") == []
    r = web.post(admin, "/devices", {"mac": "00:09:45:12:34:56", "name": "Desk", "model": "WP480"})
    assert r.status_code == 303
    page = web.get(admin, "/devices").text
    assert "00:09:45:12:34:56" in page and "WP480" in page
    r = web.post(admin, "/devices", {"delete": "00:09:45:12:34:56"})
    assert r.status_code == 303 and web.daemon.call("dhcp.device.list") == []


def test_blocked_ports_indicator_reflects_where_the_pbx_listens(web, admin):
    ports = web.daemon.call("net.ports")
    page = web.get(admin, "/users").text
    if ports["status"] == "green":
        assert 'href="/ports"' not in page
    else:  # on loopback the SIP and web ports are not where a LAN reaches them
        assert f"Blocked ports ({ports['status']})" in page
    detail = web.get(admin, "/ports").text
    assert str(web.daemon.sip_port) in detail and "udp" in detail


def test_network_settings_are_validated_saved_and_apply_needs_a_managing_daemon(web, admin):
    if "net.show" not in web.daemon.call("help"):
        pytest.skip("the networking service is not in this daemon")
    page = web.get(admin, "/settings/network")
    assert page.status_code == 200 and 'name="eth1.address" type="text" value="10.135.0.1/24"' in page.text
    form = {"hostname": "office-pbx", "confirm_timeout": "60"}
    for port, mode, address in (("eth0", "dhcp", ""), ("eth1", "static", "10.135.0.1/33"),
                                ("eth2", "disabled", ""), ("eth3", "disabled", "")):
        form.update({f"{port}.mode": mode, f"{port}.address": address, f"{port}.gateway": "",
                     f"{port}.dns": ""})
    form.update({"dhcp.enabled": "1", "dhcp.range_start": "10.135.0.100", "dhcp.range_end": "10.135.0.200",
                 "dhcp.gateway": "10.135.0.1", "dhcp.dns": "10.135.0.1", "dhcp.lease_minutes": "60",
                 "dhcp.provisioning_url": "", "shaper.upload_kbit": "0", "shaper.download_kbit": "0"})
    r = web.post(admin, "/settings/network", form)
    assert r.status_code == 400 and 'id="f-eth1.address-err"' in r.text and 'value="office-pbx"' in r.text
    assert web.daemon.call("net.show")["desired"]["hostname"] == "wpbx"  # nothing saved
    r = web.post(admin, "/settings/network", {**form, "eth1.address": "10.135.0.1/24"})
    assert r.status_code == 303, r.text[-2000:]
    assert web.daemon.call("net.show")["desired"]["hostname"] == "office-pbx"
    # host mode: the service refuses to touch the interfaces, and says why
    r = web.post(admin, "/settings/network", {"action": "apply"})
    assert r.status_code == 400 and "host mode" in r.text
