"""The seed's "Tester un trunk SIP entre 2 PBX" between two wpbxd instances.

The server PBX has an inbound trunk (host ``dynamic``, no registration); the
client PBX has an outbound trunk pointing at the server (registration on), with
the same login and password. The status turns "registered" on both sides and
calls flow both ways, each walking the receiving PBX's ``main`` procedure to a
user (a sipp phone). The CDRs name the trunk.
"""

import json
import time

from tests.daemon_runner import free_port
from tests.sip import sipp
from tests.sip.conftest import add_users, password_for

LINK = ("pbxlink", "Link_pw1")


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _status(pbx) -> dict:
    return json.loads(pbx.ctl("show", "trunks", "--json").stdout)[0]


def _route(pbx, pattern: str, trunk: str) -> None:
    pbx.ctl("dialplan", "entry", "add", "users", pattern)
    pbx.ctl("dialplan", "app", "add", "users", pattern, "set_called", "strip=1")
    pbx.ctl("dialplan", "app", "add", "users", pattern, "dial_trunk", f"trunk={trunk}")


def _call(origin, target, work, caller: str, callee: str, dialled: str) -> None:
    port = free_port()
    reg = sipp.write(work / "register.xml", sipp.register())
    csv = sipp.users_csv(work / f"reg-{callee}.csv", [(callee, password_for(callee))])
    done = sipp.run(reg, f"127.0.0.1:{target.sip_port}", "-inf", str(csv), "-m", "1", "-p", str(port), cwd=work)
    assert done.returncode == 0, sipp.errors(work)
    uas = sipp.run(sipp.write(work / "uas.xml", sipp.uas("answer")), f"127.0.0.1:{target.sip_port}", "-m", "1",
                   "-p", str(port), "-mp", str(free_port()), cwd=work, wait=False, timeout=30)
    scenario = sipp.write(work / "uac.xml", sipp.uac_call())
    csv = sipp.users_csv(work / f"uac-{caller}.csv", [(caller, password_for(caller))], callee=dialled)
    uac = sipp.run(scenario, f"127.0.0.1:{origin.sip_port}", "-inf", str(csv), "-m", "1", "-d", "300",
                   "-p", str(free_port()), "-mp", str(free_port()), cwd=work, timeout=30)
    try:
        assert uac.returncode == 0, sipp.errors(work)
        assert uas.wait(timeout=30) == 0, sipp.errors(work)
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()


def test_two_pbx_trunk_registers_and_calls_flow_both_ways(wpbxd_factory, tmp_path):
    work = tmp_path / "sipp"
    work.mkdir()
    server = wpbxd_factory("server")
    client = wpbxd_factory("client")
    add_users(server, ["200", "201"])
    add_users(client, ["101", "102"])
    for pbx in (server, client):
        pbx.call("acl.set", {"name": "default", "allowed": ["internal", "national", "mobile", "international"]})
        pbx.ctl("dialplan", "entry", "add", "main", "XXX")
        pbx.ctl("dialplan", "app", "add", "main", "XXX", "dial", "target=${called}")
    server.ctl("trunk", "add", "--name", "client", "--host", "dynamic", "--login", LINK[0], "--password", LINK[1])
    client.ctl("trunk", "add", "--name", "server", "--host", f"127.0.0.1:{server.sip_port}", "--login", LINK[0],
               "--password", LINK[1], "--register")
    _route(client, "9XXX", "server")
    _route(server, "8XXX", "client")

    registered = _wait(lambda: (s := _status(client))["status"] == "registered" and s, 15, "the client registered")
    assert registered["registered_to"] == f"127.0.0.1:{server.sip_port}"
    peer = _wait(lambda: (s := _status(server))["status"] == "registered" and s, 15, "the server seeing the peer")
    assert peer["registered_from"] == f"127.0.0.1:{client.sip_port}"

    _call(client, server, work, "101", "200", "9200")     # client -> server
    _call(server, client, work, "201", "102", "8102")     # server -> client
    for pbx, trunk in ((server, "client"), (client, "server")):
        rows = _wait(lambda pbx=pbx: len(r := pbx.call("cdr.list", {"limit": 10})) >= 2 and r, 10, "two CDRs")
        assert {r["trunk"] for r in rows} == {trunk}
        assert all(r["disposition"] == "ANSWERED" for r in rows)


def test_wrong_link_password_shows_the_refusal_on_the_client(wpbxd_factory):
    server = wpbxd_factory("server")
    client = wpbxd_factory("client")
    server.ctl("trunk", "add", "--name", "client", "--host", "dynamic", "--login", LINK[0], "--password", LINK[1])
    client.ctl("trunk", "add", "--name", "server", "--host", f"127.0.0.1:{server.sip_port}", "--login", LINK[0],
               "--password", "not-it", "--register")
    failed = _wait(lambda: (s := _status(client))["status"] == "failed" and s, 15, "a failed registration")
    assert failed["last_error"].startswith("403")
    assert _status(server)["status"] == "unregistered"


def test_remote_pbx_germany_to_france(wpbxd_factory, tmp_path):
    """Seed, "Appel d'un PBX distant": the German PBX routes 00033... through the French PBX's
    ``users`` procedure, which strips the 5 digits and calls its local trunk with 1234567890."""
    from tests.trunks.test_calls_sipp import _answering_provider, _finish

    work = tmp_path / "sipp"
    work.mkdir()
    france = wpbxd_factory("france")
    germany = wpbxd_factory("germany")
    local_port = free_port()
    local = _answering_provider(work, local_port, "1234567890", "^INVITE", 1)
    try:
        add_users(germany, ["101"])
        germany.call("acl.set", {"name": "default", "allowed": ["internal", "national", "mobile", "international"]})
        france.ctl("trunk", "add", "--name", "germany", "--host", "dynamic", "--login", LINK[0],
                   "--password", LINK[1])
        france.ctl("trunk", "add", "--name", "local", "--host", f"127.0.0.1:{local_port}", "--login", "fr")
        france.ctl("dialplan", "entry", "add", "users", "00033.")
        france.ctl("dialplan", "app", "add", "users", "00033.", "set_called", "strip=5")
        france.ctl("dialplan", "app", "add", "users", "00033.", "dial_trunk", "trunk=local")
        germany.ctl("trunk", "add", "--name", "demo.wildixin.com", "--host", f"127.0.0.1:{france.sip_port}",
                    "--login", LINK[0], "--password", LINK[1], "--register")
        germany.ctl("dialplan", "entry", "add", "users", "00033.")
        germany.ctl("dialplan", "app", "add", "users", "00033.", "remote_pbx", "pbx=demo.wildixin.com",
                    "procedure=users")
        _wait(lambda: _status(france)["status"] == "registered", 15, "the German PBX registered in France")
        scenario = sipp.write(work / "uac.xml", sipp.uac_call())
        csv = sipp.users_csv(work / "uac.csv", [("101", password_for("101"))], callee="000331234567890")
        uac = sipp.run(scenario, f"127.0.0.1:{germany.sip_port}", "-inf", str(csv), "-m", "1", "-d", "300",
                       "-p", str(free_port()), "-mp", str(free_port()), cwd=work, timeout=30)
        assert uac.returncode == 0, sipp.errors(work)
        assert _finish(local) == 0, sipp.errors(work)
        rows = _wait(lambda: france.call("cdr.list", {"limit": 5}), 10, "a CDR in France")
        assert (rows[0]["trunk"], rows[0]["callee_number"]) == ("local", "1234567890")
    finally:
        if local.poll() is None:
            local.kill()
            local.wait()
