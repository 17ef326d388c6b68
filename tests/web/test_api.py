"""The JSON API under /api/v1/: token auth, the same service functions and rules as the pages."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_api_refuses_requests_without_a_valid_token(web):
    r = web.api("GET", "/users", token="")
    assert r.status_code == 401 and r.json()["error"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert web.api("GET", "/users", token="wpbx_forged").status_code == 401


def test_api_user_life_cycle_with_validation_and_conflicts(web):
    token = web.token()
    r = web.api("POST", "/users", token, json={"name": "Ivy", "extension": "5x1"})
    assert r.status_code == 400 and r.json()["field"] == "extension"
    r = web.api("POST", "/users", token, json={"name": "Ivy", "extension": "501", "web_password": "weak"})
    assert r.status_code == 400 and r.json()["field"] == "web_password"
    assert web.api("GET", "/users?search=Ivy", token).json() == []  # nothing saved
    r = web.api("POST", "/users", token, json={"name": "Ivy", "extension": "501",
                                               "email": "ivy@example.com", "sip_password": "Ivy!s1pX"})
    assert r.status_code == 201, r.text
    ivy = r.json()
    assert "sip_password" not in ivy and ivy["extension"] == "501"
    r = web.api("POST", "/users", token, json={"name": "Ivy 2", "extension": "501"})
    assert r.status_code == 409
    r = web.api("PATCH", "/users/501", token, json={"department": "Support"})
    assert r.status_code == 200 and r.json()["department"] == "Support"
    r = web.api("PATCH", "/users/501", token, json={"department": 5})
    assert r.status_code == 400 and r.json()["field"] == "department"
    r = web.api("PUT", "/users/501/passwords", token, json={"web_password": "Iv7!webpw"})
    assert r.status_code == 200
    r = web.api("POST", "/users", token, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert web.api("DELETE", "/users/501", token).status_code == 200
    assert web.api("GET", "/users/501", token).status_code == 404


def test_api_applies_the_admin_rules_and_csv_import_is_all_or_nothing(web):
    token = web.token()
    r = web.api("POST", "/users", token, json={"type": "admin", "name": "Api Deputy",
                                               "login": "apideputy", "web_password": "Dep!uty9x"})
    assert r.status_code == 201, r.text
    deputy = web.token("apideputy")
    assert web.api("PATCH", "/users/admin", deputy, json={"email": "x@example.com"}).status_code == 403
    assert web.api("PUT", "/users/admin/passwords", deputy,
                   json={"web_password": "Hack3d!!x"}).status_code == 403
    assert web.api("POST", "/users", deputy, json={"type": "admin", "name": "X",
                                                   "login": "x2"}).status_code == 403
    assert web.api("GET", "/users.csv", deputy).status_code == 403
    bad = "name,extension\nJules,601\nKim,60-2\n"
    r = web.api("POST", "/users/import", token, data=bad.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"].startswith("line 3")
    assert web.api("GET", "/users/601", token).status_code == 404
    good = "name,extension\nJules,601\nKim,602\n"
    r = web.api("POST", "/users/import", token, data=good.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 201 and [u["extension"] for u in r.json()] == ["601", "602"]


def test_api_registrations_and_live_calls_when_sip_runs(web):
    if "registrations.list" not in web.daemon.call("help"):
        pytest.skip("the SIP service is not in this daemon")
    token = web.token()
    assert web.api("GET", "/registrations", token).json() == []
    assert web.api("GET", "/registered", token).json() == []
    assert web.api("GET", "/calls", token).json() == []
    paths = web.api("GET", "/openapi.json", token="").json()["paths"]
    assert {"/registrations", "/calls", "/cdr"} <= set(paths)


def test_openapi_document_describes_the_running_api(web):
    r = web.api("GET", "/openapi.json", token="")
    doc = r.json()
    assert doc["openapi"].startswith("3.") and "/users/{ref}" in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_api_dialplan_procedures_and_trace(web):
    if "dialplan.trace" not in web.daemon.call("help"):
        pytest.skip("the dialplan service is not in this daemon")
    token = web.token()
    names = [p["name"] for p in web.api("GET", "/dialplan/procedures", token).json()]
    assert {"main", "users", "pbxinternal", "kite"} <= set(names)
    proc = web.api("GET", "/dialplan/procedures/pbxinternal", token).json()
    assert "X!" in [e["pattern"] for e in proc["entries"]]  # feature codes may stand before it
    assert web.api("GET", "/dialplan/procedures/nosuch", token).status_code == 404
    web.daemon.call("user.add", {"name": "Quinn", "extension": "140"})
    r = web.api("GET", "/dialplan/trace?from=140&to=141", token)
    assert r.status_code == 200 and r.json()["lines"]
    assert web.api("GET", "/dialplan/trace?from=140", token).json()["field"] == "to"


def test_api_builds_a_procedure_with_numbers_and_refuses_bad_input(web):
    if "dialplan.trace" not in web.daemon.call("help"):
        pytest.skip("the dialplan service is not in this daemon")
    token = web.token()
    assert web.api("POST", "/dialplan/procedures", token, json={"name": "api-office"}).status_code == 201
    assert web.api("POST", "/dialplan/procedures", token, json={"name": "api-office"}).status_code == 409
    r = web.api("POST", "/dialplan/procedures/api-office/entries", token,
                json={"pattern": "1XX", "apps": [{"app": "dial", "params": {"target": "${called}"}}]})
    assert r.status_code == 201 and r.json()["entries"][0]["pattern"] == "1XX"
    r = web.api("POST", "/dialplan/procedures/api-office/entries", token, json={"pattern": "2XX", "apps": [7]})
    assert r.status_code == 400 and r.json()["field"] == "apps"
    r = web.api("POST", "/dialplan/procedures/api-office/entries", token,
                json={"pattern": "3XX", "apps": [{"app": "nosuchapp"}]})
    assert r.status_code == 400
    assert [e["pattern"] for e in web.api("GET", "/dialplan/procedures/api-office", token).json()["entries"]] == ["1XX"]
    r = web.api("PUT", "/dialplan/procedures/api-office/includes", token, json={"includes": ["pbxinternal"]})
    assert r.status_code == 200 and r.json()["includes"] == ["pbxinternal"]
    r = web.api("PATCH", "/dialplan/procedures/api-office", token, json={"new_name": "api-hq"})
    assert r.status_code == 200 and r.json()["name"] == "api-hq"
    assert web.api("DELETE", "/dialplan/procedures/api-hq/entries/1XX", token).status_code == 200
    assert web.api("DELETE", "/dialplan/procedures/api-hq", token).status_code == 200
    assert web.api("GET", "/dialplan/procedures/api-hq", token).status_code == 404


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(web):
    cli = Path(sys.executable).parent / "schemathesis"
    if not cli.exists():
        pytest.skip("schemathesis is not installed (pip install -r deps/pip-test.txt)")
    token = web.token()
    result = subprocess.run(
        [str(cli), "run", f"{web.base}/api/v1/openapi.json", "--url", f"{web.base}/api/v1",
         "--header", f"Authorization: Bearer {token}", "--tls-verify", web.cert,
         "--checks", "not_a_server_error", "--max-examples", "25", "--workers", "1",
         "--generation-deterministic", "--no-color"],
        capture_output=True, text=True, timeout=240, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "500" not in json.dumps([line for line in result.stdout.splitlines() if "Server error" in line])
