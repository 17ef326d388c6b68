"""The admin pages over real HTTPS (seed: "Premier accès WMS", "Modification du mot de
passe Admin", "Ajouter / Importer des utilisateurs")."""

import ssl
import time

import requests

from tests.daemon_runner import free_port
from tests.web.conftest import ADMIN_PASSWORD


def test_fresh_box_serves_https_with_its_own_certificate_and_forces_a_password_change(fresh_web):
    web = fresh_web
    s = web.session()  # verifies against the box's self-signed certificate
    assert "BEGIN CERTIFICATE" in open(web.cert).read()
    assert (web.daemon.data_dir / "web-key.pem").stat().st_mode & 0o077 == 0
    s, r = web.login("admin", "wildix")
    assert r.status_code == 303 and r.headers["Location"].endswith("/password")
    cookie = r.headers["Set-Cookie"]
    assert "wpbx_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    # every page leads back to the password change until it is done
    r = web.get(s, "/users")
    assert r.status_code == 303 and r.headers["Location"].endswith("/password")
    # a weak password is refused, with the policy's reasons next to the field, email kept
    r = web.post(s, "/password", {"current": "wildix", "new": "weakpass", "email": "boss@example.com"})
    assert r.status_code == 200
    assert 'id="f-new-err"' in r.text and "upper-case letter" in r.text and "digit" in r.text
    assert 'value="boss@example.com"' in r.text
    # a wrong current password is refused
    r = web.post(s, "/password", {"current": "nope", "new": ADMIN_PASSWORD, "email": ""})
    assert 'id="f-current-err"' in r.text
    # the generator (no JS) fills in a password that meets the policy, shown in clear
    r = web.post(s, "/password", {"current": "wildix", "new": "", "generate": "new", "email": ""})
    assert 'id="f-new" name="new" type="text"' in r.text
    first_login_done = web.post(s, "/password", {"current": "wildix", "new": ADMIN_PASSWORD,
                                                 "email": "boss@example.com"})
    assert first_login_done.headers["Location"].endswith("/users")
    assert web.daemon.call("user.show", {"ref": "admin"})["email"] == "boss@example.com"
    assert web.daemon.call("user.show", {"ref": "admin"})["must_change_password"] is False
    assert web.get(s, "/users").status_code == 200
    assert web.login("admin", "wildix")[1].status_code == 200  # old password no longer works


def test_plain_http_redirects_to_https_when_configured(fresh_web):
    web = fresh_web
    port = free_port()
    web.daemon.call("settings.set", {"key": "web.http_redirect_port", "value": port})
    deadline = time.monotonic() + 10
    while True:
        try:
            r = requests.get(f"http://127.0.0.1:{port}/users?q=1", allow_redirects=False, timeout=5)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, web.daemon.log()
            time.sleep(0.1)
    assert r.status_code == 301
    assert r.headers["Location"] == f"https://127.0.0.1:{web.daemon.web_port}/users?q=1"
    # the HTTPS listener came back after the restart
    assert web.get(web.session(), "/login").status_code == 200


def test_plain_http_mode_serves_without_tls_and_without_secure_cookies(fresh_web):
    web = fresh_web
    web.daemon.call("settings.set", {"key": "web.https", "value": 0})
    url = f"http://127.0.0.1:{web.daemon.web_port}/login"
    deadline = time.monotonic() + 10
    while True:
        try:
            r = requests.get(url, timeout=5)
            break
        except (requests.ConnectionError, ssl.SSLError):
            assert time.monotonic() < deadline, web.daemon.log()
            time.sleep(0.1)
    assert r.status_code == 200 and "Secure" not in r.headers["Set-Cookie"]


def test_post_without_or_with_a_wrong_csrf_token_is_rejected(web):
    s = web.admin()
    before = len(web.daemon.call("user.list"))
    form = {"type": "user", "name": "Mallory", "extension": "666", "dialplan": "users",
            "fax_dialplan": "users", "language": "en", "acl_group": "default"}
    r = web.post(s, "/users/new", form, csrf=False)
    assert r.status_code == 403 and "security token" in r.text
    r = web.post(s, "/users/new", {**form, "csrf": "forged"}, csrf=False)
    assert r.status_code == 403
    assert len(web.daemon.call("user.list")) == before
    # the login form has its own token too
    r = requests.post(web.base + "/login", data={"login": "admin", "password": ADMIN_PASSWORD},
                      verify=web.cert, allow_redirects=False, timeout=10)
    assert r.status_code == 403


def test_login_is_throttled_per_source_address(fresh_web):
    web = fresh_web
    web.daemon.call("settings.set", {"key": "web.login_max_failures", "value": 3})
    for _ in range(3):
        assert web.login("admin", "not-it")[1].status_code == 200
    s, r = web.login("admin", "wildix")  # right password, but the address must wait
    assert r.status_code == 429 and "Too many failed logins" in r.text
    assert int(r.headers["Retry-After"]) > 0


def test_add_user_shows_errors_next_to_fields_keeps_values_and_saves_nothing(web):
    s = web.admin()
    base = {"type": "user", "name": "Alice Martin", "extension": "201", "email": "bad-email",
            "department": "Sales", "dialplan": "users", "fax_dialplan": "users", "language": "en",
            "acl_group": "default", "web_password": "short", "sip_password": ""}
    r = web.post(s, "/users/new", base)
    assert r.status_code == 200
    assert 'id="f-email-err"' in r.text and 'value="Alice Martin"' in r.text
    assert 'value="Sales"' in r.text
    assert web.daemon.call("user.list", {"search": "Alice"}) == []
    r = web.post(s, "/users/new", {**base, "email": "alice@example.com"})
    assert 'id="f-web_password-err"' in r.text  # the password policy applies too
    assert web.daemon.call("user.list", {"search": "Alice"}) == []
    r = web.post(s, "/users/new", {**base, "email": "alice@example.com", "web_password": "Al1ce!Web",
                                   "sip_password": "S1p!secret"})
    assert r.status_code == 303, r.text[:1000]
    r = web.get(s, "/users?q=Alice")
    assert "Alice Martin" in r.text and "alice@example.com" in r.text and "Sales" in r.text
    assert 'class="dot off"' in r.text  # nothing registered: grey
    # a duplicate extension is reported on the extension field
    r = web.post(s, "/users/new", {**base, "name": "Bob", "email": "", "web_password": ""})
    assert 'id="f-extension-err"' in r.text and "already used" in r.text


def test_set_passwords_applies_the_policy_and_the_user_can_then_not_sign_in(web):
    s = web.admin()
    user = web.daemon.call("user.add", {"name": "Carol", "extension": "202"})
    path = f"/users/{user['id']}/passwords"
    r = web.post(s, path, {"web_password": "weak", "sip_password": ""})
    assert 'id="f-web_password-err"' in r.text
    r = web.post(s, path, {"web_password": "C4rol!web", "sip_password": "C4rol!sip"})
    assert r.status_code == 303
    # a plain user has no WMS access, even with the right password
    s2, r = web.login("202", "C4rol!web")
    assert r.status_code == 200 and "no access" in r.text


def test_non_super_admin_cannot_edit_admins_nor_create_them(web):
    s = web.admin()
    r = web.post(s, "/users/new", {"type": "admin", "name": "Deputy", "login": "deputy",
                                   "extension": "", "dialplan": "users", "fax_dialplan": "users",
                                   "language": "en", "acl_group": "default",
                                   "web_password": "Dep0ty!pass", "sip_password": ""})
    assert r.status_code == 303, r.text[:800]
    deputy, r = web.login("deputy", "Dep0ty!pass")
    assert r.status_code == 303
    admin_id = web.daemon.call("user.show", {"ref": "admin"})["id"]
    page = web.get(deputy, "/users").text
    assert f"/users/{admin_id}/edit" not in page and "Export CSV" not in page
    assert web.get(deputy, f"/users/{admin_id}/edit").status_code == 403
    assert web.get(deputy, f"/users/{admin_id}/passwords").status_code == 403
    r = web.post(deputy, f"/users/{admin_id}/passwords", {"web_password": "Hack3d!!x"},
                 form_page="/users")
    assert r.status_code == 403
    assert web.login("admin", ADMIN_PASSWORD)[1].status_code == 303  # unchanged
    r = web.post(deputy, "/users/new", {"type": "admin", "name": "Another", "login": "another",
                                        "dialplan": "users", "fax_dialplan": "users",
                                        "language": "en", "acl_group": "default"})
    assert 'id="f-type-err"' in r.text
    assert web.get(deputy, "/users/export.csv").status_code == 403
    # but the deputy manages plain users
    user = web.daemon.call("user.add", {"name": "Dan", "extension": "203"})
    assert web.get(deputy, f"/users/{user['id']}/edit").status_code == 200


def test_csv_import_reports_the_bad_line_imports_nothing_then_imports_a_good_file(web):
    s = web.admin()
    bad = "name,extension,email\nEve,301,eve@example.com\nFrank,30x,frank@example.com\n"
    token = web.csrf(s, "/users/import")
    r = s.post(web.base + "/users/import", data={"csrf": token},
               files={"file": ("users.csv", bad.encode(), "text/csv")}, allow_redirects=False)
    assert r.status_code == 400 and "line 3" in r.text and "extension" in r.text
    assert web.daemon.call("user.list", {"search": "Eve"}) == []
    good = "name,extension,email,department\nEve,301,eve@example.com,R&D\nFrank,302,frank@example.com,R&D\n"
    r = s.post(web.base + "/users/import", data={"csrf": token},
               files={"file": ("users.csv", good.encode(), "text/csv")}, allow_redirects=False)
    assert r.status_code == 303
    assert {u["name"] for u in web.daemon.call("user.list", {"search": "R&D"})} == {"Eve", "Frank"}
    exported = web.get(s, "/users/export.csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "user,Eve,,301," in exported.text


def test_delete_user_with_personal_data_removes_the_call_history(web):
    s = web.admin()
    user = web.daemon.call("user.add", {"name": "Gina", "extension": "404"})
    import sqlite3

    db = sqlite3.connect(web.daemon.data_dir / "wpbx.db")
    db.execute("INSERT INTO cdr(start_time, end_time, duration, billsec, caller_number,"
               " callee_number, disposition) VALUES (?, ?, 5, 3, '404', '201', 'ANSWERED')",
               (time.time() - 10, time.time()))
    db.commit()
    r = web.post(s, f"/users/{user['id']}/delete", {"personal_data": "1"})
    assert r.status_code == 303
    assert db.execute("SELECT COUNT(*) FROM cdr WHERE caller_number = '404'").fetchone()[0] == 0
    db.close()
    assert web.daemon.call("user.list", {"search": "Gina"}) == []
    # the super admin cannot be deleted
    admin_id = web.daemon.call("user.show", {"ref": "admin"})["id"]
    assert web.get(s, f"/users/{admin_id}/delete").status_code == 200
    r = web.post(s, f"/users/{admin_id}/delete", {})
    assert "cannot be deleted" in r.text


def test_info_page_draws_gauges_and_settings_save_all_or_nothing(web):
    s = web.admin()
    r = web.get(s, "/info")
    assert r.status_code == 200 and r.text.count('<svg class="gauge"') == 3
    if "storage.status" in web.daemon.call("help"):
        assert "internal storage" in r.text  # no USB stick here
    r = web.post(s, "/settings/web", {"web.https": "1", "web.http_redirect_port": "-1",
                                      "web.session_idle": "5", "web.login_max_failures": "7",
                                      "web.login_lockout": "300"})
    assert 'id="f-web.session_idle-err"' in r.text
    assert web.daemon.call("settings.get", {"key": "web.login_max_failures"}) == {"web.login_max_failures": 5}
    r = web.post(s, "/settings/web", {"web.https": "1", "web.http_redirect_port": "-1",
                                      "web.session_idle": "900", "web.login_max_failures": "7",
                                      "web.login_lockout": "300"})
    assert r.status_code == 303
    assert web.daemon.call("settings.get", {"key": "web.session_idle"}) == {"web.session_idle": 900}


def test_logout_ends_the_session(web):
    s = web.admin()
    r = web.post(s, "/logout", {}, form_page="/users")
    assert r.status_code == 303
    assert web.get(s, "/users").headers["Location"].startswith("/login") or \
        "/login" in web.get(s, "/users").headers["Location"]
