"""CDR backends with real peers (issue 8; seed: "Historique des appels et chat").

A private MariaDB server receives the records of real SIP calls (sipp through
wpbxd); stopped while calls go on and started again, it ends with every record
once, in order. The CSV backend gets the same records.
"""

import csv
import json
import time

from tests.daemon_runner import free_port
from tests.sip import sipp
from tests.sip.conftest import add_users, password_for

CALLER, CALLEE = "3001", "3002"       # the callee never registers: every call ends 480, each a CDR


def _calls(pbx, sipp_dir, count: int) -> None:
    scenario = sipp.write(sipp_dir / "uac.xml", sipp.uac_expect(480))
    users = sipp.users_csv(sipp_dir / "uac.csv", [(CALLER, password_for(CALLER))], callee=CALLEE)
    result = sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", str(count),
                      "-r", "20", "-p", str(free_port()), cwd=sipp_dir, timeout=30)
    assert result.returncode == 0, sipp.errors(sipp_dir) or result.stderr[-2000:]


def _wait(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _local_ids(pbx) -> list[int]:
    return sorted(r["id"] for r in pbx.call("cdr.list", {"limit": 1000}))


def _backend(pbx, name: str) -> dict:
    return next(b for b in pbx.call("cdrbackend.list") if b["name"] == name)


def test_mariadb_down_during_calls_loses_and_duplicates_nothing(wpbxd, sipp_dir, mariadb, tmp_path):
    add_users(wpbxd, [CALLER, CALLEE])
    csv_path = tmp_path / "cdr.csv"
    wpbxd.ctl("cdr", "backend", "set", "mysql", "--enable", "--option", f"socket={mariadb.socket}",
              "--option", "database=pbx", "--option", "table=pbx_cdr", "--option", "user=pbx",
              "--option", "password=Cdr_pw1")
    wpbxd.ctl("cdr", "backend", "set", "csv", "--enable", "--option", f"path={csv_path}")
    _wait(lambda: "table pbx_cdr created" in " ".join(_backend(wpbxd, "mysql")["log"]), what="table created")

    _calls(wpbxd, sipp_dir, 5)
    _wait(lambda: len(_local_ids(wpbxd)) == 5, what="5 local CDRs")
    _wait(lambda: len(mariadb.query("SELECT id FROM pbx.pbx_cdr")) == 5, what="5 rows in MariaDB")

    mariadb.stop()
    _calls(wpbxd, sipp_dir, 6)
    _wait(lambda: len(_local_ids(wpbxd)) == 11, what="11 local CDRs")
    down = _wait(lambda: (b := _backend(wpbxd, "mysql"))["queued"] == 6 and "queued" in b["status"] and b,
                 what="6 records queued")
    assert "cannot connect" in down["status"] or "lost the connection" in down["status"]

    mariadb.start()
    _calls(wpbxd, sipp_dir, 2)
    _wait(lambda: len(_local_ids(wpbxd)) == 13, what="13 local CDRs")
    _wait(lambda: len(mariadb.query("SELECT id FROM pbx.pbx_cdr")) == 13, timeout=40, what="13 rows in MariaDB")
    remote = [r[0] for r in mariadb.query("SELECT id FROM pbx.pbx_cdr ORDER BY id")]
    assert remote == _local_ids(wpbxd)                       # every record, once
    local_first = wpbxd.call("cdr.list", {"limit": 1000})[-1]
    row = mariadb.query("SELECT caller_number, callee_number, disposition FROM pbx.pbx_cdr ORDER BY id LIMIT 1")
    assert row == [(CALLER, CALLEE, local_first["disposition"])]
    assert _backend(wpbxd, "mysql")["queued"] == 0

    with csv_path.open() as f:
        csv_ids = [int(r["id"]) for r in csv.DictReader(f)]
    assert csv_ids == _local_ids(wpbxd)

    wpbxd.ctl("cdr", "backend", "select", "mysql")
    stats = json.loads(wpbxd.ctl("cdr", "backend", "stats").stdout)
    assert stats["backend"] == "mysql" and stats["calls"] == 13


def test_wrong_mysql_password_is_reported(wpbxd, mariadb):
    wpbxd.ctl("cdr", "backend", "set", "mysql", "--enable", "--option", f"socket={mariadb.socket}",
              "--option", "database=pbx", "--option", "user=pbx", "--option", "password=wrong")
    status = _wait(lambda: "refused" in (s := _backend(wpbxd, "mysql")["status"]) and s, what="refusal")
    assert "the server refused the user name or password" in status
