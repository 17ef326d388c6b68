"""Dialplan pages (seed: "Fonctionnement du Dialplan") over HTTPS: procedures, called
numbers, applications and their order, and the trace form."""

import pytest


@pytest.fixture
def admin(web):
    if "dialplan.trace" not in web.daemon.call("help"):
        pytest.skip("the dialplan service is not in this daemon")
    return web.admin()


def test_build_a_procedure_with_numbers_and_applications(web, admin):
    s = admin
    r = web.get(s, "/dialplan")
    assert r.status_code == 200 and "pbxinternal" in r.text
    r = web.post(s, "/dialplan", {"name": "office", "description": "Office hours"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/dialplan/p/office")
    # a bad pattern is refused next to its field and nothing is saved
    r = web.post(s, "/dialplan/p/office", {"action": "entry_add", "pattern": "1[X", "app": "dial",
                                           "params": "target=${called}"}, form_page="/dialplan/p/office")
    assert r.status_code == 400 and 'class="error"' in r.text and 'value="1[X"' in r.text
    assert web.daemon.call("dialplan.show", {"name": "office"})["entries"] == []
    r = web.post(s, "/dialplan/p/office", {"action": "entry_add", "pattern": "1XX", "app": "answer",
                                           "params": ""}, form_page="/dialplan/p/office")
    assert r.status_code == 303, r.text[:2000]
    r = web.post(s, "/dialplan/p/office", {"action": "app_add", "pattern": "1XX", "app": "dial",
                                           "params": "target=${called}"}, form_page="/dialplan/p/office")
    assert r.status_code == 303, r.text[:2000]
    apps = web.daemon.call("dialplan.show", {"name": "office"})["entries"][0]["apps"]
    assert [a["app"] for a in apps] == ["answer", "dial"]
    r = web.post(s, "/dialplan/p/office", {"action": "app_up", "pattern": "1XX", "index": "2"},
                 form_page="/dialplan/p/office")
    assert r.status_code == 303
    apps = web.daemon.call("dialplan.show", {"name": "office"})["entries"][0]["apps"]
    assert [a["app"] for a in apps] == ["dial", "answer"]
    r = web.post(s, "/dialplan/p/office", {"action": "includes", "includes": "pbxinternal"},
                 form_page="/dialplan/p/office")
    assert web.daemon.call("dialplan.show", {"name": "office"})["includes"] == ["pbxinternal"]
    page = web.get(s, "/dialplan/p/office").text
    assert "<code>1XX</code>" in page and "target=${called}" in page


def test_trace_form_shows_the_path_of_a_call(web, admin):
    web.daemon.call("user.add", {"name": "Tracy", "extension": "120"})
    web.daemon.call("user.add", {"name": "Uma", "extension": "121"})
    r = web.get(admin, "/dialplan/trace?from=120&to=121")
    assert r.status_code == 200
    assert 'class="trace"' in r.text and "End:" in r.text and "pbxinternal" in r.text
    r = web.get(admin, "/dialplan/trace?from=120&to=121&at=not-a-time")
    assert 'class="error"' in r.text


def test_user_preferences_per_call_class_are_validated_and_saved(web, admin):
    if "prefs.set" not in web.daemon.call("help"):
        pytest.skip("user preferences are not in this daemon")
    user = web.daemon.call("user.add", {"name": "Pia", "extension": "130"})
    path = f"/users/{user['id']}/preferences?class=external"
    assert f'/users/{user["id"]}/preferences' in web.get(admin, "/users?q=Pia").text
    r = web.post(admin, path, {"dnd": "", "fwd_busy": "not a number", "fwd_unavailable": "",
                               "fwd_always": "", "call_waiting": "1", "call_timeout": "",
                               "mobility_delay": ""})
    assert r.status_code == 200 and 'id="f-fwd_busy-err"' in r.text and 'value="not a number"' in r.text
    r = web.post(admin, path, {"dnd": "", "fwd_busy": "VOICEMAIL", "fwd_unavailable": "0612345678",
                               "fwd_always": "", "call_waiting": "", "call_timeout": "25",
                               "mobility_delay": ""})
    assert r.status_code == 303, r.text[:1500]
    prefs = web.daemon.call("prefs.show", {"user": "130"})
    assert prefs["external"]["fwd_busy"] == "VOICEMAIL" and prefs["external"]["call_timeout"] == 25
    assert prefs["external"]["call_waiting"] is False and prefs["internal"]["call_waiting"] is True


def test_dialplan_general_settings_page_saves_prefixes(web, admin):
    keys = [k for k in web.daemon.call("settings.get") if k.startswith("dialplan.")]
    if not keys:
        pytest.skip("no dialplan settings in this build")
    page = web.get(admin, "/settings/dialplan")
    assert page.status_code == 200 and all(f'name="{k}"' in page.text for k in keys)


def test_call_groups_are_added_edited_and_checked(web, admin):
    for ext in ("150", "151"):
        web.daemon.call("user.add", {"name": f"Agent {ext}", "extension": ext})
    form = {"name": "helpdesk", "strategy": "linear", "ring_time": "15", "timeout": "",
            "members": "150, 999"}
    r = web.post(admin, "/dialplan/groups", form)
    assert r.status_code == 400 and 'id="f-members-err"' in r.text and "999" in r.text
    assert 'value="150, 999"' in r.text  # kept
    assert web.daemon.call("callgroup.list") == []
    r = web.post(admin, "/dialplan/groups", {**form, "members": "150, 151:20"})
    assert r.status_code == 303
    group = web.daemon.call("callgroup.list")[0]
    assert group["strategy"] == "linear" and [m["extension"] for m in group["members"]] == ["150", "151"]
    page = web.get(admin, "/dialplan/groups?edit=helpdesk").text
    assert 'value="150, 151:20"' in page
    r = web.post(admin, "/dialplan/groups", {"delete": "helpdesk"})
    assert r.status_code == 303 and web.daemon.call("callgroup.list") == []


def test_time_ranges_weekly_grid_and_exceptions(web, admin):
    r = web.post(admin, "/dialplan/timeranges", {"action": "set", "name": "office",
                                                "weekly": "mon-fri 08:00-12:00,25:00-26:00"})
    assert r.status_code == 400 and 'id="f-weekly-err"' in r.text
    r = web.post(admin, "/dialplan/timeranges", {"action": "set", "name": "office",
                                                "weekly": "mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"},
                 form_page="/dialplan/timeranges")
    assert r.status_code == 303
    page = web.get(admin, "/dialplan/timeranges").text
    assert page.count('class="open"') == 5 * 8 + 3 and 'title="mon 08h: open"' in page
    r = web.post(admin, "/dialplan/timeranges", {"action": "exception", "name": "office",
                                                "date": "2026-12-25", "open": ""})
    assert r.status_code == 303
    ranges = web.daemon.call("timerange.list")
    assert ranges[0]["exceptions"] == [{"date": "2026-12-25", "open": []}]
    assert "2026-12-25 closed" in web.get(admin, "/dialplan/timeranges").text


def test_smtp_profile_is_validated_saved_and_tested_against_a_real_server(web, admin):
    if "smtp.test" not in web.daemon.call("help"):
        pytest.skip("the SMTP profile is not in this daemon")
    pytest.importorskip("aiosmtpd", reason="aiosmtpd is in deps/pip-test.txt")
    from aiosmtpd.controller import Controller

    from tests.daemon_runner import free_port

    class Inbox:
        def __init__(self):
            self.mails = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(envelope)
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        form = {"action": "save", "sender": "pbx@example.com", "server": "127.0.0.1", "port": "99999",
                "security": "none", "username": "", "password": "", "helo": "", "verify_tls": "1"}
        r = web.post(admin, "/settings/smtp", form)
        assert r.status_code == 200 and 'id="f-port-err"' in r.text and 'value="pbx@example.com"' in r.text
        assert web.daemon.call("smtp.show")["server"] == ""  # nothing saved
        r = web.post(admin, "/settings/smtp", {**form, "port": str(port)})
        assert r.status_code == 303
        r = web.post(admin, "/settings/smtp", {"action": "test", "to": "boss@example.com"})
        assert r.status_code == 200 and "test mail sent" in r.text
        assert inbox.mails and inbox.mails[0].rcpt_tos == ["boss@example.com"]
    finally:
        controller.stop()


def test_acl_groups_page_sets_the_allowed_call_classes(web, admin):
    if "acl.set" not in web.daemon.call("help"):
        pytest.skip("ACL groups are not in this daemon")
    assert 'href="/users/groups"' in web.get(admin, "/users").text
    r = web.post(admin, "/users/groups", {"name": "bad name!", "allowed": "internal"})
    assert r.status_code == 200 and 'class="error"' in r.text
    r = web.post(admin, "/users/groups", {"name": "restricted", "allowed": ["internal", "emergency"]})
    assert r.status_code == 303
    groups = {g["name"]: g["allowed"] for g in web.daemon.call("acl.list")}
    assert groups["restricted"] == ["internal", "emergency"]
    # the new group is offered in the user form
    assert '<option value="restricted">' in web.get(admin, "/users/new").text


def test_a_signed_in_admin_shows_green(web, admin):
    page = web.get(admin, "/users?q=Administrator").text
    assert 'class="dot on"' in page


def test_switches_are_added_toggled_and_deleted(web, admin):
    r = web.post(admin, "/dialplan/switch", {"action": "add", "name": "night", "states": "4"}, form_page="/dialplan")
    assert r.status_code == 400 and 'class="error"' in r.text
    r = web.post(admin, "/dialplan/switch", {"action": "add", "name": "night", "states": "2"}, form_page="/dialplan")
    assert r.status_code == 303
    r = web.post(admin, "/dialplan/switch", {"name": "night", "state": "on"}, form_page="/dialplan")
    assert r.status_code == 303
    assert {s["name"]: s["state"] for s in web.daemon.call("switch.list")}["night"] == "on"
    assert "Set night to off" in web.get(admin, "/dialplan").text
    r = web.post(admin, "/dialplan/switch", {"action": "delete", "name": "night"}, form_page="/dialplan")
    assert r.status_code == 303 and web.daemon.call("switch.list") == []
