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
