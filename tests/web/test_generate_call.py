"""Generate call (seed, secondary menu item 9) and recording a sound by phone from the
Sounds page: the forms, their errors next to the field, and a real softphone that
rings and is answered."""


import pytest

from tests.daemon_runner import wait_for
from tests.media_engine.test_e2e_sip import baresip
from tests.sip.conftest import add_users
from tests.sip.test_baresip import wait_registered


def test_generate_call_form_checks_the_extension_and_rings_a_real_phone(web, tmp_path):
    s = web.admin()
    page = web.get(s, "/users")
    assert 'href="/generate-call"' in page.text
    form = web.get(s, "/generate-call")
    assert form.status_code == 200 and 'name="number" type="text" value="76"' in form.text

    r = web.post(s, "/generate-call", {"extension": "899", "number": "76", "procedure": ""})
    assert r.status_code == 400 and 'id="f-extension-err"' in r.text and "no user has extension 899" in r.text
    assert 'value="899"' in r.text                        # what was typed stays
    r = web.post(s, "/generate-call", {"extension": "899", "number": "7 6", "procedure": ""})
    assert r.status_code == 400 and 'id="f-number-err"' in r.text
    r = web.post(s, "/generate-call", {"extension": "899", "number": "76"}, csrf=False)
    assert r.status_code == 403                          # no CSRF token: refused
    assert web.daemon.call("calls.list") == []

    add_users(web.daemon, ["851"])
    phone = baresip(tmp_path, web.daemon, "851")
    try:
        wait_registered(web.daemon, ["851"])
        r = web.post(s, "/generate-call", {"extension": "851", "number": "76", "procedure": "users"},
                     form_page="/generate-call")
        assert r.status_code == 303 and r.headers["Location"].endswith("/debug")
        phone.wait_event("CALL_ESTABLISHED")
        call = wait_for(lambda: [c for c in web.daemon.call("calls.list") if c["state"] == "answered"])[0]
        assert call["caller"] == "851" and call["called"] == "76"
        debug = web.get(s, "/debug")
        assert "Ringing 851" in debug.text and "generated call" in debug.text
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
    finally:
        phone.stop()


def test_sounds_page_records_by_phone_or_says_why_not(web):
    s = web.admin()
    page = web.get(s, "/sounds")
    if page.status_code != 200:
        pytest.skip("the Sounds page needs sox (make test installs it)")
    assert 'action="/sounds/record"' in page.text
    r = web.post(s, "/sounds/record", {"rec_name": "night", "rec_extension": "898"}, form_page="/sounds")
    assert r.status_code == 303
    shown = web.get(s, "/sounds").text
    assert "Not recorded" in shown and "no user has extension 898" in shown
    r = web.post(s, "/sounds/record", {"rec_name": "../x", "rec_extension": "898"}, form_page="/sounds")
    assert r.status_code == 303 and "sound name" in web.get(s, "/sounds").text


def test_api_generates_calls_with_the_same_checks(web):
    token = web.token()
    r = web.api("POST", "/calls", token, json={"extension": "897", "number": "76"})
    assert r.status_code == 400 and r.json()["field"] == "extension"
    r = web.api("POST", "/calls", token, json={"extension": "897", "number": "76", "ring": "now"})
    assert r.status_code == 400 and r.json()["field"] == "ring"
    spec = web.get(web.session(), "/api/v1/openapi.json").json()
    assert "post" in spec["paths"]["/calls"]
