"""Calls history (CDR) page with filters, CSV and the calls-per-hour chart; the SIP bans
page of the super admin (seed: "Introduction à WMS", secondary menu items 7 and 12)."""

import csv
import datetime
import io
import sqlite3
import time

import pytest

from tests.web.conftest import ADMIN_PASSWORD, Web, start_daemon
from wpbxd.config import users
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store


def _cdr(db: sqlite3.Connection, start: float, caller: str, callee: str, disposition: str) -> None:
    db.execute("INSERT INTO cdr(start_time, answer_time, end_time, duration, billsec, caller_number,"
               " callee_number, disposition) VALUES (?, ?, ?, 30, 20, ?, ?, ?)",
               (start, start + 10, start + 30, caller, callee, disposition))


def test_calls_page_filters_downloads_csv_and_draws_calls_per_hour(web):
    if "cdr.list" not in web.daemon.call("help"):
        pytest.skip("the CDR feature is not in this daemon")
    s = web.admin()
    day = datetime.date(2026, 3, 2)
    at = datetime.datetime(2026, 3, 2, 9, 15, tzinfo=datetime.UTC).timestamp()  # pbx.timezone is UTC
    db = sqlite3.connect(web.daemon.data_dir / "wpbx.db")
    for i in range(3):
        _cdr(db, at + i * 60, "701", "702", "ANSWERED")
    _cdr(db, at + 3600, "701", "703", "BUSY")
    _cdr(db, at - 86400, "709", "702", "ANSWERED")  # the day before
    db.commit()
    db.close()
    r = web.get(s, f"/calls?from={day}&to={day}&user=701")
    assert r.status_code == 200 and "4 call(s)" in r.text
    assert '<rect' in r.text and "09: 3</title>" in r.text and "10: 1</title>" in r.text
    r = web.get(s, f"/calls?from={day}&to={day}&disposition=BUSY")
    assert "1 call(s)" in r.text
    r = web.get(s, "/calls?from=2026-03-05&to=2026-03-01")
    assert 'id="f-to-err"' in r.text  # a range that ends before it starts
    r = web.get(s, f"/calls.csv?from={day}&to={day}")
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 4 and rows[0]["caller_number"] == "701"
    # the API gives the same records
    token = web.token()
    records = web.api("GET", f"/cdr?from={day}&to={day}&user=701&limit=10", token).json()
    assert len(records) == 4


def test_sip_bans_page_lists_and_unbans_for_the_super_admin_only(tmp_path):
    data = tmp_path / "pbx"
    data.mkdir()
    store = Store(data / "wpbx.db")
    store.migrate()
    apply_factory_defaults(store)
    users.set_passwords(store, None, "admin", web_password=ADMIN_PASSWORD)
    users.add_user(store, None, {"type": "admin", "name": "Other", "login": "other"},
                   web_password="0ther!Adm")
    if store.one("SELECT name FROM sqlite_master WHERE name = 'sip_bans'") is None:
        pytest.skip("the SIP bans feature is not in this build")
    now = time.time()
    store.execute("INSERT INTO sip_bans(address, banned_at, until, reason, failures)"
                  " VALUES ('192.0.2.7', ?, ?, 'failed authentication', 10)", (now, now + 600))
    store.close()
    daemon = start_daemon(data)
    try:
        web = Web(daemon)
        s = web.admin()
        page = web.get(s, "/bans")
        assert page.status_code == 200 and "192.0.2.7" in page.text
        assert 'href="/bans"' in web.get(s, "/users").text
        other, _ = web.login("other", "0ther!Adm")
        assert 'href="/bans"' not in web.get(other, "/users").text
        assert web.get(other, "/bans").status_code == 403
        r = web.post(s, "/bans", {"address": "192.0.2.7"})
        assert r.status_code == 303
        assert daemon.call("bans.list") == []
        after = web.get(s, "/bans").text
        assert "0 banned address(es)" in after and "<td>192.0.2.7</td>" not in after
        # seed: the SIP bans item is visible only while something is banned
        assert 'href="/bans"' not in web.get(s, "/users").text
    finally:
        daemon.stop()
