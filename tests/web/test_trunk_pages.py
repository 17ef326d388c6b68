"""Trunks section (seed: "Configuration du Trunk"): the form with its errors next to
the fields, live status from a second real wpbxd registering (and failing to),
price lists (a bad file refused with its line, the previous list kept), trunk
groups, Settings > CDR backends, and the ``/api/v1/trunks`` endpoints."""

import json
import re
import time
from html import unescape

import pytest

from tests.daemon_runner import free_port
from tests.web.conftest import Web, first_login

LINK = ("pbxlink", "Link_pw1")
GOOD_PRICES = "dialprefix,destination,rate,min_duration,billing_block,connect_charge,start_day,stop_day,start_time,stop_time\n" \
              "0033,France,0.02,0,60,0,1,7,0,86400\n0044,UK,0.05,5,1,0.1,1,7,0,86400\n"


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no #{element_id} in page"
    return unescape(match.group(1)).strip()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _form(**values) -> dict:
    base = {"title": "", "name": "", "login": "", "from_user": "", "domain": "", "host": "", "password": "",
            "procedure": "main", "country_code": "", "called_from": "ruri", "max_calls": "0", "price_list": "",
            "register_expires": "300", "keepalive": "0"}
    return {**base, **values}


def test_trunks_menu_and_form_errors_next_to_the_field_values_kept(web):
    s = web.admin()
    assert 'href="/trunks"' in web.get(s, "/users").text
    r = web.post(s, "/trunks/new", _form(title="Provider A", name="prov-a", login="acct", host="bad host!"),
                 form_page="/trunks/new")
    assert r.status_code == 400
    assert "not an IP address or host name" in _text(r.text, "f-host-err")
    assert 'value="Provider A"' in r.text and 'value="acct"' in r.text
    r = web.post(s, "/trunks/new", _form(name="dyn", login="peer", host="dynamic"), form_page="/trunks/new")
    assert r.status_code == 400 and "needs a password" in _text(r.text, "f-password-err")
    assert web.daemon.call("trunk.list") == []
    r = web.post(s, "/trunks/new", _form(title="Provider A", name="prov-a", login="acct", host="192.0.2.7:5070",
                                         password="Secret-1", country_code="33"), form_page="/trunks/new")
    assert r.status_code == 303, r.text[:2000]
    page = web.get(s, "/trunks").text
    assert "prov-a" in page and "Provider A" in page and "192.0.2.7:5070" in page
    # edit: an empty password keeps the stored one; a rename follows
    r = web.post(s, "/trunks/edit/prov-a", _form(title="Provider B", name="prov-b", login="acct",
                                                 host="192.0.2.7:5070", country_code="33"),
                 form_page="/trunks/edit/prov-a")
    assert r.status_code == 303, r.text[:2000]
    shown = web.daemon.call("trunk.show", {"name": "prov-b"})
    assert shown["title"] == "Provider B" and shown["password"] == "********"
    # CSRF: a delete without the token is refused and deletes nothing
    r = web.post(s, "/trunks/delete/prov-b", {}, csrf=False)
    assert r.status_code == 403 and web.daemon.call("trunk.list")
    assert "Delete the trunk" in web.get(s, "/trunks/delete/prov-b").text  # the confirmation page
    r = web.post(s, "/trunks/delete/prov-b", {})
    assert r.status_code == 303 and web.daemon.call("trunk.list") == []
    assert web.get(s, "/trunks/delete/prov-b").status_code == 404


def test_price_list_bad_file_refused_with_its_line_previous_kept_then_attached(web):
    s = web.admin()
    r = web.post(s, "/trunks/pricelists", {"name": "retail"}, form_page="/trunks/pricelists",
                 files={"file": ("rates.csv", GOOD_PRICES.encode())})
    assert r.status_code == 303, r.text[:2000]
    page = web.get(s, "/trunks/pricelists/retail").text
    assert "France" in page and "0044" in page
    bad = GOOD_PRICES + "0049,Germany,cheap,0,60,0,1,7,0,86400\n"
    r = web.post(s, "/trunks/pricelists", {"name": "retail"}, form_page="/trunks/pricelists",
                 files={"file": ("rates.csv", bad.encode())})
    assert r.status_code == 400
    assert _text(r.text, "f-file-err") == "line 4: rate 'cheap' is not a number"
    assert 'value="retail"' in r.text
    assert [p["rows"] for p in web.daemon.call("pricelist.list")] == [2]  # the previous list is kept
    r = web.post(s, "/trunks/pricelists", {"name": "retail"}, form_page="/trunks/pricelists",
                 files={"file": ("rates.csv", b"\xff\xfe not text")})
    assert r.status_code == 400 and "not UTF-8" in _text(r.text, "f-file-err")
    # attach to a trunk from the trunk form
    r = web.post(s, "/trunks/new", _form(name="priced", login="acct", host="192.0.2.8", price_list="retail"),
                 form_page="/trunks/new")
    assert r.status_code == 303, r.text[:2000]
    assert web.daemon.call("trunk.show", {"name": "priced"})["price_list"] == "retail"
    listing = web.get(s, "/trunks/pricelists").text
    assert re.search(r"retail</a></td><td>2</td>.*?<td>priced</td>", listing, re.S)
    web.post(s, "/trunks/delete/priced", {})
    # a long list is shown a page at a time
    long = "".join(f"0{100 + i},Zone {i},0.01,0,60,0,1,7,0,86400\n" for i in range(150))
    r = web.post(s, "/trunks/pricelists", {"name": "long"}, form_page="/trunks/pricelists",
                 files={"file": ("long.csv", long.encode())})
    assert r.status_code == 303, r.text[:2000]
    second = web.get(s, "/trunks/pricelists/long?page=2").text
    assert "page 2 of 2" in second and "Zone 149" in second and "Zone 99<" not in second
    assert "Zone 99<" in web.get(s, "/trunks/pricelists/long").text
    assert web.get(s, "/trunks/pricelists/nosuch").status_code == 404


def test_trunk_groups_keep_member_order_and_report_bad_members(web):
    s = web.admin()
    for name in ("gsm", "bri"):
        web.daemon.call("trunk.add", {"name": name, "host": "192.0.2.10", "login": name})
    data = {"name": "out", "trunk0": "gsm", "strip0": "1", "prepend0": "", "max_calls0": "2", "delay0": "3",
            "trunk1": "bri", "strip1": "1", "prepend1": "0033", "max_calls1": "", "delay1": ""}
    r = web.post(s, "/trunks/groups", {**data, "prepend1": "00x"}, form_page="/trunks/groups")
    assert r.status_code == 400 and "member 2" in _text(r.text, "f-members-err")
    assert web.daemon.call("trunkgroup.list") == []
    r = web.post(s, "/trunks/groups", data, form_page="/trunks/groups")
    assert r.status_code == 303, r.text[:2000]
    assert [m["trunk"] for m in web.daemon.call("trunkgroup.show", {"name": "out"})["members"]] == ["gsm", "bri"]
    assert "gsm, bri" in web.get(s, "/trunks").text
    web.post(s, "/trunks/groups", {"action": "delete", "name": "out"}, form_page="/trunks/groups")
    for name in ("gsm", "bri"):
        web.daemon.call("trunk.del", {"name": name})


def test_live_status_registered_from_a_second_pbx_and_failed_with_its_reason(web, wpbxd_factory):
    if "trunks.status" not in web.daemon.call("help"):
        pytest.skip("the SIP service (trunks.status) is not in this daemon")
    s = web.admin()
    r = web.post(s, "/trunks/new", _form(title="Branch office", name="branch", login=LINK[0], host="dynamic",
                                         password=LINK[1]), form_page="/trunks/new")
    assert r.status_code == 303, r.text[:2000]
    client = wpbxd_factory("client")
    target = f"127.0.0.1:{web.daemon.sip_port}"
    client.ctl("trunk", "add", "--name", "hq", "--host", target, "--login", LINK[0], "--password", LINK[1],
               "--register")
    client.ctl("trunk", "add", "--name", "hq-bad", "--host", target, "--login", LINK[0], "--password", "not-it",
               "--register")
    page = _wait(lambda: "registered from 127.0.0.1:" in (t := web.get(s, "/trunks").text) and t, 20,
                 "the branch trunk registered")
    assert re.search(rf"registered from 127\.0\.0\.1:{client.sip_port}", page)
    cweb = Web(client)
    first_login(cweb)
    cs = cweb.admin()
    page = _wait(lambda: ("registered to" in (t := cweb.get(cs, "/trunks").text) and "failed" in t) and t, 20,
                 "the client's trunk statuses")
    statuses = dict(re.findall(r'<span class="status">([^<]*)</span></td>\s*<td>([^<]*)</td>', page))
    by_trunk = {v: unescape(k) for k, v in statuses.items()}
    assert by_trunk["hq"].startswith(f"registered to {target}")
    assert by_trunk["hq-bad"].startswith("failed: 403"), by_trunk
    # a provider that never answers its keep-alive OPTIONS turns down
    web.daemon.call("trunk.add", {"name": "silent", "host": f"127.0.0.1:{free_port()}", "login": "x",
                                  "keepalive": 1})
    page = _wait(lambda: "silent" in (t := web.get(s, "/trunks").text) and t, 10, "the silent trunk listed")
    page = _wait(lambda: re.search(r'class="dot bad"[^<]*</span> <span class="status">down: keep-alive unanswered</span></td>\s*<td>silent',
                                   t := web.get(s, "/trunks").text) and t, 20, "the silent trunk down")
    web.daemon.call("trunk.del", {"name": "silent"})
    api = web.api("GET", "/trunks", web.token()).json()
    assert api[0]["name"] == "branch" and api[0]["status"]["state"] == "registered"
    assert api[0]["status"]["registered_from"] == f"127.0.0.1:{client.sip_port}"
    web.daemon.call("trunk.del", {"name": "branch"})


def test_cdr_backends_settings_errors_next_to_fields_and_status_line(web, tmp_path):
    s = web.admin()
    assert 'href="/settings/cdr-backends"' in web.get(s, "/settings/pbx").text
    page = "/settings/cdr-backends"
    r = web.post(s, page, {"backend": "csv", "action": "save", "enabled": "1", "path": "relative.csv"})
    assert r.status_code == 400 and _text(r.text, "f-csv-path-err") == "must be an absolute path"
    assert 'value="relative.csv"' in r.text
    r = web.post(s, page, {"backend": "mysql", "action": "save", "enabled": "1", "host": "127.0.0.1",
                           "port": "99999", "database": "", "table": "cdr", "user": "", "password": "",
                           "socket": ""})
    assert r.status_code == 400 and _text(r.text, "f-mysql-port-err") == "must be 1-65535"
    r = web.post(s, page, {"backend": "mysql", "action": "save", "enabled": "1", "host": "127.0.0.1",
                           "port": "3306", "database": "", "table": "cdr", "user": "", "password": "",
                           "socket": ""})
    assert r.status_code == 400 and "is required" in _text(r.text, "f-mysql-database-err")
    r = web.post(s, page, {"backend": "sqlite", "action": "save"})
    assert r.status_code == 400 and "statistics source" in r.text
    r = web.post(s, page, {"backend": "csv", "action": "stats"})
    assert r.status_code == 400 and "enable the csv backend" in r.text
    assert [b["enabled"] for b in web.daemon.call("cdrbackend.list")] == [True, False, False]
    out = tmp_path / "cdr.csv"
    r = web.post(s, page, {"backend": "csv", "action": "save", "enabled": "1", "path": str(out)})
    assert r.status_code == 303, r.text[:2000]
    r = web.post(s, page, {"backend": "csv", "action": "stats"})
    assert r.status_code == 303
    html = _wait(lambda: f"file {out} created" in (t := web.get(s, page).text) and t, 10,
                 "the CSV backend's status line")
    assert re.search(r'id="backend-csv".*?Status: file [^<]* created · statistics source', html, re.S)
    assert "Statistics source:\ncsv: 0 call(s)" in html
    assert out.read_text().startswith("id,")
    web.post(s, page, {"backend": "sqlite", "action": "stats"})
    web.post(s, page, {"backend": "csv", "action": "save", "path": str(out)})
    assert [b["enabled"] for b in web.daemon.call("cdrbackend.list")] == [True, False, False]


def test_trunks_api_add_change_delete_and_type_errors(web):
    token = web.token()
    r = web.api("POST", "/trunks", token, json={"name": "api-t", "login": "acct", "host": "192.0.2.9",
                                                "keepalive": 30, "register": False})
    assert r.status_code == 201, r.text
    assert r.json()["keepalive"] == 30
    r = web.api("POST", "/trunks", token, json={"name": "api-t", "login": "acct", "host": "192.0.2.9"})
    assert r.status_code == 409
    r = web.api("PATCH", "/trunks/api-t", token, json={"keepalive": "thirty"})
    assert r.status_code == 400 and r.json()["field"] == "keepalive"
    r = web.api("PATCH", "/trunks/api-t", token, json={"host": "no host"})
    assert r.status_code == 400 and r.json()["field"] == "host"
    r = web.api("PATCH", "/trunks/api-t", token, json={"title": "via API"})
    assert r.status_code == 200 and r.json()["title"] == "via API"
    assert web.api("GET", "/trunks/api-t", token).json()["status"]["text"]
    spec = json.loads(web.get(web.session(), "/api/v1/openapi.json").text)
    assert {"/trunks", "/trunks/{name}"} <= set(spec["paths"])
    assert web.api("DELETE", "/trunks/api-t", token).status_code == 200
    assert web.api("GET", "/trunks/api-t", token).status_code == 404
