"""End to end: real SIP user agents (sipp) calling through a real wpbxd, with the
routing decided by stored dialplan data (seed: "Préférences des utilisateurs",
"Groupes d'appel", ACL, "Exemple de configuration de la procédure users").

Callers and callees are sipp processes registered as users; a sipp UAS registered
as an extension stands in for a trunk until trunks exist.
"""

import time

import pytest

from tests.conftest import need_tool
from tests.daemon_runner import free_port

sipp = pytest.importorskip("tests.sip.sipp", reason="the SIP test helpers are needed")

CALLER, CALLEE, OTHER = "4001", "4002", "4003"
PASSWORD = "Sip#{ext}pw"


@pytest.fixture
def pbx(wpbxd, tmp_path):
    need_tool("sipp")
    folder = tmp_path / "sipp"
    folder.mkdir()
    wpbxd.folder = folder
    wpbxd.uas_procs = []
    for ext in (CALLER, CALLEE, OTHER):
        wpbxd.call("user.add", {"name": f"User {ext}", "extension": ext, "sip_password": PASSWORD.format(ext=ext)})
    yield wpbxd
    for proc in wpbxd.uas_procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def register(pbx, ext: str, port: int) -> None:
    scenario = sipp.write(pbx.folder / "register.xml", sipp.register())
    users = sipp.users_csv(pbx.folder / f"reg-{ext}.csv", [(ext, PASSWORD.format(ext=ext))])
    result = sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1", "-p", str(port),
                      cwd=pbx.folder)
    assert result.returncode == 0, sipp.errors(pbx.folder) or result.stderr[-2000:]


def phone(pbx, ext: str, mode: str):
    """Register ``ext`` at a sipp UAS that will ``answer``, be ``busy`` or ``ring``."""
    port = free_port()
    register(pbx, ext, port)
    scenario = sipp.write(pbx.folder / f"uas-{ext}.xml", sipp.uas(mode))
    proc = sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-m", "1", "-p", str(port), cwd=pbx.folder,
                    wait=False, timeout=30)
    pbx.uas_procs.append(proc)
    return proc


def call(pbx, callee: str, expect: int | None = None, caller: str = CALLER, wait: bool = True, hold_ms: int = 0):
    """``caller`` calls ``callee``: answered (``expect`` None) or failing with ``expect``."""
    text = sipp.uac_expect(expect) if expect else sipp.uac_call()
    scenario = sipp.write(pbx.folder / f"uac-{caller}.xml", text)
    users = sipp.users_csv(pbx.folder / f"uac-{caller}.csv", [(caller, PASSWORD.format(ext=caller))], callee=callee)
    extra = ["-d", str(hold_ms)] if hold_ms else []
    return sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1", "-p", str(free_port()),
                    *extra, cwd=pbx.folder, timeout=30, wait=wait)


def ok(pbx, result) -> None:
    assert result.returncode == 0, (sipp.errors(pbx.folder) or result.stderr[-2000:]) + "\n" + pbx.log()[-4000:]


def finished(proc) -> int:
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def prefs(pbx, ext: str, **values) -> None:
    pbx.call("prefs.set", {"user": ext, "class": "internal", "values": values})


def test_forward_when_busy_rings_the_forward_target(pbx):
    busy = phone(pbx, CALLEE, "busy")
    target = phone(pbx, OTHER, "answer")
    prefs(pbx, CALLEE, fwd_busy=OTHER)
    ok(pbx, call(pbx, CALLEE))
    assert finished(busy) == 0 and finished(target) == 0


def test_forward_when_unavailable_and_forward_always(pbx):
    target = phone(pbx, OTHER, "answer")
    prefs(pbx, CALLEE, fwd_unavailable=OTHER)
    ok(pbx, call(pbx, CALLEE))            # 4002 is not registered at all
    assert finished(target) == 0
    ringing = phone(pbx, CALLEE, "answer")
    target = phone(pbx, OTHER, "answer")
    prefs(pbx, CALLEE, fwd_unavailable="", fwd_always=OTHER)
    ok(pbx, call(pbx, CALLEE))
    assert finished(target) == 0
    assert ringing.poll() is None         # the forwarding phone never rang


def test_dnd_gives_busy(pbx):
    phone(pbx, CALLEE, "answer")
    prefs(pbx, CALLEE, dnd=True)
    ok(pbx, call(pbx, CALLEE, expect=486))


def test_call_waiting_off_gives_busy_to_a_second_call(pbx):
    phone(pbx, OTHER, "answer")
    second = phone(pbx, CALLEE, "answer")   # registered: only call waiting can refuse the call
    prefs(pbx, CALLEE, call_waiting=False)
    first = call(pbx, OTHER, caller=CALLEE, wait=False, hold_ms=4000)   # 4002 talks to 4003
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(c["state"] == "answered" for c in pbx.call("calls.list")):
        time.sleep(0.1)
    ok(pbx, call(pbx, CALLEE, expect=486))
    assert finished(first) == 0
    assert second.poll() is None            # its phone never rang


def test_linear_call_group_skips_to_the_next_member(pbx):
    busy = phone(pbx, CALLEE, "busy")
    answer = phone(pbx, OTHER, "answer")
    pbx.call("callgroup.set", {"name": "support", "strategy": "linear", "members": [CALLEE, OTHER],
                               "ring_time": 5, "timeout": 20})
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "500",
                                    "apps": [{"app": "call_group", "params": {"group": "support"}}]})
    ok(pbx, call(pbx, "500"))
    assert finished(busy) == 0 and finished(answer) == 0


def test_acl_denies_an_international_call_with_403(pbx):
    ok(pbx, call(pbx, "0039061234567", expect=403))
    assert "class international" in pbx.log()


def test_seed_users_example_mobile_route_ends_at_a_stand_in_trunk(pbx):
    """Seed: ``0[67].`` strips the outside-line 0 and goes to the "gsm-calls" route."""
    trunk = "612345678"
    pbx.call("user.add", {"name": "GSM trunk stand-in", "extension": trunk,
                          "sip_password": PASSWORD.format(ext=trunk)})
    answer = phone(pbx, trunk, "answer")
    pbx.call("dialplan.add", {"name": "gsm_calls"})
    pbx.call("dialplan.entry.add", {"procedure": "gsm_calls", "pattern": "X.",
                                    "apps": [{"app": "dial", "params": {"target": "${called}"}}]})
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "0[67].", "apps": [
        {"app": "set_called", "params": {"strip": 1}}, {"app": "goto", "params": {"procedure": "gsm_calls"}}]})
    ok(pbx, call(pbx, "0612345678"))
    assert finished(answer) == 0


def test_mobility_fork_rings_the_mobility_number_after_its_delay(pbx):
    """Seed "Gestion de l'extension de Mobilité": the mobile (here a second user,
    until trunks exist) rings N seconds after the desk phone and can take the call."""
    desk = phone(pbx, CALLEE, "ring")
    mobile = phone(pbx, OTHER, "answer")
    pbx.call("user.set", {"ref": CALLEE, "mobility": OTHER})
    prefs(pbx, CALLEE, mobility_delay=1)
    ok(pbx, call(pbx, CALLEE))
    assert finished(mobile) == 0
    assert finished(desk) == 0            # the desk phone got CANCEL once the mobile answered


def test_missed_call_mail_after_the_callee_call_timeout(pbx):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in deps/pip-test.txt")
    received = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):
            received.append((envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    controller = aiosmtpd.Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        pbx.call("smtp.set", {"values": {"sender": "pbx@example.com", "server": "127.0.0.1",
                                         "port": controller.port}})
        pbx.call("user.set", {"ref": CALLEE, "email": "callee@example.com"})
        phone(pbx, CALLEE, "ring")
        prefs(pbx, CALLEE, call_timeout=1, missed_email=True)
        ok(pbx, call(pbx, CALLEE, expect=480))
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        controller.stop()
    (rcpt, body), = received
    assert rcpt == ["callee@example.com"] and f"Missed call from {CALLER}" in body


def records(pbx, count: int) -> list[dict]:
    """The last ``count`` call records, oldest first (they are written just after the call)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = pbx.call("cdr.list", {"limit": count})
        if len(rows) >= count:
            return sorted(rows, key=lambda r: r["start_time"])
        time.sleep(0.1)
    raise AssertionError("no call records")


def answered_by(pbx, count: int) -> list[str]:
    return [r["callee_number"] for r in records(pbx, count)]


def group(pbx, strategy: str) -> None:
    pbx.call("callgroup.set", {"name": "sales", "strategy": strategy, "members": [CALLEE, OTHER],
                               "ring_time": 5, "timeout": 20})
    pbx.call("dialplan.entry.add", {"procedure": "users", "pattern": "600",
                                    "apps": [{"app": "call_group", "params": {"group": "sales"}}]})


def test_ring_all_group_rings_both_and_cancels_the_other(pbx):
    ringing = phone(pbx, CALLEE, "ring")
    answer = phone(pbx, OTHER, "answer")
    group(pbx, "ringall")
    ok(pbx, call(pbx, "600"))
    assert finished(answer) == 0 and finished(ringing) == 0
    assert answered_by(pbx, 1) == [OTHER]


def test_round_robin_group_starts_after_the_member_rung_last(pbx):
    first = phone(pbx, CALLEE, "answer")
    second = phone(pbx, OTHER, "answer")
    group(pbx, "roundrobin")
    ok(pbx, call(pbx, "600"))
    assert finished(first) == 0
    ok(pbx, call(pbx, "600"))
    assert finished(second) == 0
    assert answered_by(pbx, 2) == [CALLEE, OTHER]


def test_seed_main_example_through_real_calls(pbx):
    """Seed "Exemple de configuration de procédure main": three public numbers, the
    closed-hours time range "bureau_ferme", the voicemail switch, the support call
    group (its 20 s shortened to 2 s here); the voicemail and IVR steps are calls to
    users until the media issue lands. A user whose procedure is ``main`` stands in
    for the trunk the calls would arrive on."""
    from datetime import UTC, datetime

    trunk = "0478000000"
    for ext in (trunk, "100", "150", "160", "200"):
        pbx.call("user.add", {"name": f"User {ext}", "extension": ext, "sip_password": PASSWORD.format(ext=ext)})
    pbx.call("user.set", {"ref": trunk, "dialplan": "main"})
    everyday = "; ".join(f"{d} 00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    pbx.call("timerange.set", {"name": "bureau_ferme", "weekly": everyday})
    pbx.call("switch.add", {"name": "messagerie"})
    pbx.call("callgroup.set", {"name": "assistance_tech", "strategy": "ringall", "members": [CALLEE, OTHER],
                               "timeout": 2})
    for name, target in (("bureau_ferme", "160"), ("messagerie_vocale", "150"), ("ventes", "200")):
        pbx.call("dialplan.add", {"name": name})
        pbx.call("dialplan.entry.add", {"procedure": name, "pattern": "default",
                                        "apps": [{"app": "dial", "params": {"target": target}}]})
    checks = [{"app": "time_check", "params": {"range": "bureau_ferme", "procedure": "bureau_ferme"}},
              {"app": "switch_check", "params": {"switch": "messagerie", "on": "messagerie_vocale"}}]
    entries = {
        "+33176747980": [{"app": "mobility_lookup", "params": {}}, *checks,
                         {"app": "dial", "params": {"target": "100"}}],
        "+33176747983": [*checks, {"app": "call_group", "params": {"group": "assistance_tech"}},
                         {"app": "goto", "params": {"procedure": "messagerie_vocale"}}],
        "+33176747984": [*checks, {"app": "goto", "params": {"procedure": "ventes"}}],
    }
    for number, apps in entries.items():
        pbx.call("dialplan.entry.add", {"procedure": "main", "pattern": number, "apps": apps})

    reception = phone(pbx, "100", "answer")
    ok(pbx, call(pbx, "+33176747980", caller=trunk))
    assert finished(reception) == 0

    members = [phone(pbx, CALLEE, "ring"), phone(pbx, OTHER, "ring")]
    voicemail = phone(pbx, "150", "answer")
    ok(pbx, call(pbx, "+33176747983", caller=trunk))       # nobody in the group answers within 2 s
    assert finished(voicemail) == 0 and all(finished(m) == 0 for m in members)

    sales = phone(pbx, "200", "answer")
    ok(pbx, call(pbx, "+33176747984", caller=trunk))
    assert finished(sales) == 0

    pbx.call("switch.set", {"name": "messagerie", "state": "on"})
    voicemail = phone(pbx, "150", "answer")
    ok(pbx, call(pbx, "+33176747984", caller=trunk))
    assert finished(voicemail) == 0

    today = datetime.now(UTC).date().isoformat()
    pbx.call("timerange.exception", {"name": "bureau_ferme", "date": today})   # a holiday: closed all day
    closed = phone(pbx, "160", "answer")
    ok(pbx, call(pbx, "+33176747984", caller=trunk))
    assert finished(closed) == 0
    assert answered_by(pbx, 5) == ["100", "150", "200", "150", "160"]


def test_seed_sda_example_through_real_calls(pbx):
    """Seed "SDA": the first 8 digits are stripped, 04611715111 rings extension 111."""
    trunk = "0478000000"
    for ext in (trunk, "111", "122"):
        pbx.call("user.add", {"name": f"User {ext}", "extension": ext, "sip_password": PASSWORD.format(ext=ext)})
    pbx.call("user.set", {"ref": trunk, "dialplan": "main"})
    pbx.call("dialplan.add", {"name": "sda"})
    pbx.call("dialplan.entry.add", {"procedure": "sda", "pattern": "1XX",
                                    "apps": [{"app": "dial", "params": {"target": "${called}"}}]})
    pbx.call("dialplan.entry.add", {"procedure": "main", "pattern": "046117151XX", "apps": [
        {"app": "set_called", "params": {"strip": 8}}, {"app": "goto", "params": {"procedure": "sda"}}]})
    for number, ext in (("04611715111", "111"), ("04611715122", "122")):
        callee = phone(pbx, ext, "answer")
        ok(pbx, call(pbx, number, caller=trunk))
        assert finished(callee) == 0
    assert answered_by(pbx, 2) == ["111", "122"]


def test_mobility_lookup_continues_as_the_users_desk_phone(pbx):
    """Seed "Recherche de l'Extension de Mobilité": a call from a user's mobile number
    continues in that user's own procedure as if placed from the desk phone."""
    mobile = "0611223344"
    pbx.call("user.add", {"name": "Mobile network stand-in", "extension": mobile,
                          "sip_password": PASSWORD.format(ext=mobile), "dialplan": "main"})
    pbx.call("user.set", {"ref": CALLER, "mobility": mobile})
    pbx.call("dialplan.entry.add", {"procedure": "main", "pattern": "+33176747980", "apps": [
        {"app": "mobility_lookup", "params": {"number": OTHER}}, {"app": "hangup", "params": {"code": 404}}]})
    target = phone(pbx, OTHER, "answer")
    ok(pbx, call(pbx, "+33176747980", caller=mobile))
    assert finished(target) == 0
    (record,) = records(pbx, 1)
    assert (record["caller_number"], record["callee_number"]) == (CALLER, OTHER)
