"""The box's recovery code is on the Info page for the super admin only (issue 7: the
serial console's *Recover system* asks for it; seed: recovery needs authorisation)."""

import re


def test_info_page_shows_the_recovery_code_to_the_super_admin_only(web):
    if "box.info" not in web.daemon.call("help"):
        import pytest

        pytest.skip("the console service is not in this daemon")
    code = web.daemon.call("box.info")["recovery_code"]
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    s = web.admin()
    assert code in web.get(s, "/info").text
    web.daemon.call("user.add", {"type": "admin", "name": "Helper", "login": "helper",
                                 "web_password": "Help3r!pass"})
    helper, r = web.login("helper", "Help3r!pass")
    assert r.status_code == 303
    page = web.get(helper, "/info")
    assert page.status_code == 200 and code not in page.text


def test_settings_menu_lists_update_when_the_upgrade_service_runs(web):
    if "upgrade.install" not in web.daemon.call("help"):
        import pytest

        pytest.skip("the upgrade service is not in this daemon")
    page = web.get(web.admin(), "/settings/smtp").text
    assert 'href="/settings/update"' in page
