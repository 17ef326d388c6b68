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
