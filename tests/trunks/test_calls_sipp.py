"""Calls through trunks with real peers (issue 8; seed: "Faisceau", "Configuration du Trunk").

sipp plays the providers (``scenarios/``) and the phone; the PBX is the real SIP
service with its trunk side, in this process (``inproc``).
"""

import asyncio
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.daemon_runner import free_port
from tests.sip import sipp
from tests.sip.conftest import password_for
from tests.trunks.harness import wait_for
from tests.trunks.inproc import InprocPbx
from wpbxd.config import users
from wpbxd.telephony.cdr import list_cdr
from wpbxd.telephony.dialplan import catalog, procedures
from wpbxd.telephony.trunks import model, pricelist

SCENARIOS = Path(__file__).parent / "scenarios"
CALLER = "101"
PRICES = ("dialprefix,destination,rate,min_duration,billing_block,connect_charge,start_day,stop_day,start_time,"
          "stop_time\n6,Mobile,0.30,0,60,0.05,1,7,0,86399\n")


def _provider(work: Path, scenario: str, port: int, number: str = "") -> subprocess.Popen:
    text = (SCENARIOS / scenario).read_text().replace("EXPECTED_NUMBER", number)
    path = work / scenario
    path.write_text(text)
    return subprocess.Popen(["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(port), "-m", "1",
                             "-nostdin", "-trace_err", "-trace_msg", "-timeout", "30s", "-timeout_error",
                             "-mp", str(free_port())], cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _phone_call(pbx: InprocPbx, work: Path, called: str, scenario_text: str) -> int:
    scenario = sipp.write(work / "phone.xml", scenario_text)
    csv = sipp.users_csv(work / "phone.csv", [(CALLER, password_for(CALLER))], callee=called)
    proc = sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(csv), "-m", "1", "-d", "500",
                    "-p", str(free_port()), "-mp", str(free_port()), cwd=work, wait=False, timeout=30)
    while proc.poll() is None:
        await asyncio.sleep(0.1)
    return proc.returncode


@pytest.fixture
def work(tmp_path):
    need_tool("sipp")
    path = tmp_path / "sipp"
    path.mkdir()
    return path


def _setup(store, gsm_port: int, sip_port: int) -> None:
    users.add_user(store, None, {"extension": CALLER, "name": "Caller"}, sip_password=password_for(CALLER))
    catalog.set_acl(store, None, "default", ["internal", "national", "mobile", "international"])
    pricelist.import_list(store, None, "mobile", PRICES)
    model.add_trunk(store, None, {"name": "gsm", "host": f"127.0.0.1:{gsm_port}", "login": "gsm"})
    model.add_trunk(store, None, {"name": "sip2", "host": f"127.0.0.1:{sip_port}", "login": "acme",
                                  "password": "s3cret", "domain": "provider.test", "price_list": "mobile"})
    model.set_group(store, None, "gsm-calls", [{"trunk": "gsm", "strip": 1}, {"trunk": "sip2", "strip": 1}])
    procedures.add_entry(store, None, "users", "0[67].", [{"app": "trunk_group", "params": {"group": "gsm-calls"}}])


def test_group_fails_over_from_a_503_trunk_to_one_that_challenges_the_invite(tmp_path, work):
    gsm_port, sip_port = free_port(), free_port()
    first = _provider(work, "provider_503.xml", gsm_port)
    second = _provider(work, "provider_invite_auth.xml", sip_port, number="612345678")

    async def main() -> None:
        pbx = InprocPbx(tmp_path / "pbx")
        _setup(pbx.store, gsm_port, sip_port)
        await pbx.start()
        try:
            code = await _phone_call(pbx, work, "0612345678", sipp.uac_call())
            assert code == 0, sipp.errors(work)
            rows = await wait_for(lambda: list_cdr(pbx.store, 5), 5, "a CDR")
            assert rows[0]["disposition"] == "ANSWERED"
            assert rows[0]["trunk"] == "sip2"
            assert rows[0]["cost"] == pytest.approx(0.05 + 0.30)     # 0.5 s billed as one 60 s block
        finally:
            await pbx.stop()

    try:
        asyncio.run(main())
        assert _finish(first) == 0, first.stderr.read().decode(errors="replace")[-1500:]
        assert _finish(second) == 0, sipp.errors(work)
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def _register_and_answer(pbx: InprocPbx, work: Path, ext: str) -> subprocess.Popen:
    port = free_port()
    reg = sipp.write(work / "register.xml", sipp.register())
    csv = sipp.users_csv(work / f"reg-{ext}.csv", [(ext, password_for(ext))])
    done = sipp.run(reg, f"127.0.0.1:{pbx.sip_port}", "-inf", str(csv), "-m", "1", "-p", str(port), cwd=work,
                    wait=False, timeout=20)
    assert await _wait_proc(done) == 0, sipp.errors(work)
    uas = sipp.write(work / "uas.xml", sipp.uas("answer"))
    return sipp.run(uas, f"127.0.0.1:{pbx.sip_port}", "-m", "1", "-p", str(port), "-mp", str(free_port()),
                    cwd=work, wait=False, timeout=30)


async def _wait_proc(proc: subprocess.Popen) -> int:
    while proc.poll() is None:
        await asyncio.sleep(0.1)
    return proc.returncode


def test_incoming_call_from_a_trunk_walks_main_to_a_user(tmp_path, work):
    """Seed: "Routage des Appels" (main by default); the number comes from the To header here,
    and the caller's +33 number is normalised by the trunk's country code."""
    provider_port = free_port()

    async def main() -> None:
        pbx = InprocPbx(tmp_path / "pbx")
        store = pbx.store
        users.add_user(store, None, {"extension": "200", "name": "Reception"}, sip_password=password_for("200"))
        model.add_trunk(store, None, {"name": "provider", "host": f"127.0.0.1:{provider_port}", "login": "acme",
                                      "called_from": "to", "country_code": "33"})
        procedures.add_entry(store, None, "main", "0123456789", [{"app": "dial", "params": {"target": "200"}}])
        await pbx.start()
        try:
            uas = await _register_and_answer(pbx, work, "200")
            path = work / "call_in.xml"
            path.write_text((SCENARIOS / "provider_call_in.xml").read_text())
            caller = sipp.run(path, f"127.0.0.1:{pbx.sip_port}", "-s", "0123456789", "-m", "1",
                              "-p", str(provider_port), "-mp", str(free_port()), cwd=work, wait=False, timeout=30)
            assert await _wait_proc(caller) == 0, sipp.errors(work)
            assert await _wait_proc(uas) == 0, sipp.errors(work)
            rows = await wait_for(lambda: list_cdr(pbx.store, 5), 5, "a CDR")
            assert (rows[0]["caller_number"], rows[0]["callee_number"]) == ("0145678900", "200")
            assert rows[0]["disposition"] == "ANSWERED" and rows[0]["trunk"] == "provider"
        finally:
            await pbx.stop()

    asyncio.run(main())


def test_anonymous_invites_from_elsewhere_get_403_and_lead_to_a_ban(tmp_path, work):
    async def main() -> None:
        pbx = InprocPbx(tmp_path / "pbx")
        from wpbxd.config import settings

        settings.set_value(pbx.store, None, "sip.ban.max_failures", 2)
        model.add_trunk(pbx.store, None, {"name": "provider", "host": "192.0.2.1", "login": "acme"})
        await pbx.start()
        try:
            path = work / "anon.xml"
            path.write_text((SCENARIOS / "anonymous_invite.xml").read_text())
            scanner = sipp.run(path, f"127.0.0.1:{pbx.sip_port}", "-s", "0033612345678", "-m", "2", "-r", "5",
                               "-p", str(free_port()), cwd=work, wait=False, timeout=20)
            assert await _wait_proc(scanner) == 0, sipp.errors(work)
            bans = await wait_for(lambda: pbx.sip.bans.active(__import__("time").time()), 5, "a ban")
            assert bans[0].address == "127.0.0.1" and "anonymous INVITE" in bans[0].reason
        finally:
            await pbx.stop()

    asyncio.run(main())


def test_a_trunk_whose_keepalive_stopped_is_skipped_by_the_group(tmp_path, work):
    dead_port, live_port = free_port(), free_port()
    live = _provider(work, "provider_invite_auth.xml", live_port, number="0612345678")
    lines: list[str] = []
    changes: list = []

    async def main() -> None:
        pbx = InprocPbx(tmp_path / "pbx")
        store = pbx.store
        users.add_user(store, None, {"extension": CALLER, "name": "Caller"}, sip_password=password_for(CALLER))
        catalog.set_acl(store, None, "default", ["internal", "national", "mobile", "international"])
        model.add_trunk(store, None, {"name": "dead", "host": f"127.0.0.1:{dead_port}", "login": "x",
                                      "keepalive": 1})
        model.add_trunk(store, None, {"name": "live", "host": f"127.0.0.1:{live_port}", "login": "acme",
                                      "password": "s3cret", "domain": "provider.test"})
        model.set_group(store, None, "out", [{"trunk": "dead"}, {"trunk": "live"}])
        procedures.add_entry(store, None, "users", "0[67].", [{"app": "trunk_group", "params": {"group": "out"}}])
        await pbx.start()
        from wpbxd.events import CallTrace

        pbx.bus.subscribe(CallTrace, lambda e: lines.append(e.text))
        from wpbxd.events import TrunkStatusChanged

        pbx.bus.subscribe(TrunkStatusChanged, lambda e: changes.append(e))
        try:
            await wait_for(lambda: not pbx.side.runtime.available("dead")[0], 10, "the dead trunk marked down")
            assert TrunkStatusChanged("dead", "down", "keep-alive unanswered") in changes
            code = await _phone_call(pbx, work, "0612345678", sipp.uac_call())
            assert code == 0, sipp.errors(work)
        finally:
            await pbx.stop()

    try:
        asyncio.run(main())
        assert "trunk dead not tried: down (keep-alive unanswered)" in lines
        assert _finish(live) == 0, sipp.errors(work)
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()


def test_outgoing_call_through_kamailio_answers_its_407(tmp_path, work):
    """Kamailio as the provider's proxy: INVITE challenged with 407, relayed to a phone registered there."""
    from tests.trunks.test_registration_sipp import start_kamailio, stop_kamailio

    kam_port = free_port()
    (tmp_path / "kam-run").mkdir()
    kam = start_kamailio(tmp_path, kam_port, "s3cret")

    async def main() -> None:
        far_port = free_port()
        reg = sipp.write(work / "register.xml", sipp.register())
        csv = sipp.users_csv(work / "far.csv", [("612345678", "s3cret")])
        await asyncio.sleep(0.5)
        done = sipp.run(reg, f"127.0.0.1:{kam_port}", "-inf", str(csv), "-m", "1", "-p", str(far_port),
                        cwd=work, wait=False, timeout=20)
        assert await _wait_proc(done) == 0, sipp.errors(work)
        far = sipp.run(sipp.write(work / "uas.xml", sipp.uas("answer", strict_ack=False)), f"127.0.0.1:{kam_port}",
                       "-m", "1", "-p", str(far_port), "-mp", str(free_port()), cwd=work, wait=False, timeout=30)
        pbx = InprocPbx(tmp_path / "pbx")
        store = pbx.store
        users.add_user(store, None, {"extension": CALLER, "name": "Caller"}, sip_password=password_for(CALLER))
        catalog.set_acl(store, None, "default", ["internal", "national", "mobile", "international"])
        model.add_trunk(store, None, {"name": "kam", "host": f"127.0.0.1:{kam_port}", "login": "acme",
                                      "password": "s3cret", "domain": "provider.test"})
        procedures.add_entry(store, None, "users", "0[67].", [
            {"app": "set_called", "params": {"strip": 1}}, {"app": "dial_trunk", "params": {"trunk": "kam"}}])
        await pbx.start()
        try:
            code = await _phone_call(pbx, work, "0612345678", sipp.uac_call())
            assert code == 0, sipp.errors(work)
            assert await _wait_proc(far) == 0, sipp.errors(work)
        finally:
            await pbx.stop()

    try:
        asyncio.run(main())
        log = (tmp_path / "kamailio.log").read_text(errors="replace")
        assert "INVITE accepted for sip:612345678@provider.test" in log
    finally:
        stop_kamailio(kam)


def _answering_provider(work: Path, port: int, number_re: str, header_re: str, calls: int) -> subprocess.Popen:
    text = ((SCENARIOS / "provider_answer.xml").read_text()
            .replace("EXPECTED_NUMBER", number_re).replace("EXPECTED_HEADER", header_re))
    path = work / f"provider_answer_{port}.xml"
    path.write_text(text)
    return subprocess.Popen(["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(port), "-m", str(calls),
                             "-nostdin", "-trace_err", "-timeout", "40s", "-timeout_error",
                             "-mp", str(free_port())], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_seed_users_example_ends_on_the_right_trunks_with_the_right_digits(tmp_path, work):
    """Seed, "Exemple de configuration de la procédure users": +XXXX., 00039. (remote PBX), 0X., 0[67]."""
    bri_port, gsm_port, italy_port = free_port(), free_port(), free_port()
    bri = _answering_provider(work, bri_port, r"(0\+3912345678|145678900|612345678)", "^INVITE", 3)
    gsm = _provider(work, "provider_503.xml", gsm_port)
    italy = _answering_provider(work, italy_port, "000391234567", "X-Wpbx-Procedure: users", 1)
    expected = {"+3912345678": ("bri-1", "0+3912345678"), "0145678900": ("bri-1", "145678900"),
                "0612345678": ("bri-1", "612345678"), "000391234567": ("italy", "000391234567")}

    async def main() -> None:
        pbx = InprocPbx(tmp_path / "pbx")
        store = pbx.store
        users.add_user(store, None, {"extension": CALLER, "name": "Caller"}, sip_password=password_for(CALLER))
        catalog.set_acl(store, None, "default", ["internal", "national", "mobile", "international"])
        for name, port in (("bri-1", bri_port), ("gsm", gsm_port), ("italy", italy_port)):
            model.add_trunk(store, None, {"name": name, "host": f"127.0.0.1:{port}", "login": name})
        model.set_group(store, None, "gsm-calls", [{"trunk": "gsm"}, {"trunk": "bri-1"}])
        procedures.add_entry(store, None, "users", "+XXXX.", [
            {"app": "set_called", "params": {"prefix": "0"}}, {"app": "dial_trunk", "params": {"trunk": "bri-1"}}])
        procedures.add_entry(store, None, "users", "00039.", [
            {"app": "remote_pbx", "params": {"pbx": "italy", "procedure": "users"}}])
        procedures.add_entry(store, None, "users", "0X.", [
            {"app": "set_called", "params": {"strip": 1}}, {"app": "dial_trunk", "params": {"trunk": "bri-1"}}])
        procedures.add_entry(store, None, "users", "0[67].", [
            {"app": "set_called", "params": {"strip": 1}}, {"app": "trunk_group", "params": {"group": "gsm-calls"}}])
        await pbx.start()
        try:
            for dialled in expected:
                assert await _phone_call(pbx, work, dialled, sipp.uac_call()) == 0, (dialled, sipp.errors(work))
            rows = await wait_for(lambda: len(r := list_cdr(pbx.store, 10)) == 4 and r, 5, "4 CDRs")
            assert {r["callee_number"] for r in rows} == {number for _, number in expected.values()}
            assert {(r["trunk"], r["callee_number"]) for r in rows} == set(expected.values())
        finally:
            await pbx.stop()

    try:
        asyncio.run(main())
        for proc in (bri, gsm, italy):
            assert _finish(proc) == 0, sipp.errors(work)
    finally:
        for proc in (bri, gsm, italy):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_call_fails_over_across_srv_targets_of_one_trunk(tmp_path, work, dns_server):
    """RFC 3263 §4.3: the first SRV target answers 503, the call goes to the next one."""
    from wpbxd.config import settings

    first_port, second_port = free_port(), free_port()
    dns_port = dns_server([f"srv-host=_sip._udp.provider.test,sip1.provider.test,{first_port},10,100",
                           f"srv-host=_sip._udp.provider.test,sip2.provider.test,{second_port},20,100",
                           "host-record=sip1.provider.test,127.0.0.1", "host-record=sip2.provider.test,127.0.0.1"])
    first = _provider(work, "provider_503.xml", first_port)
    second = _answering_provider(work, second_port, "612345678", "^INVITE", 1)
    lines: list[str] = []

    async def main() -> None:
        pbx = InprocPbx(tmp_path / "pbx")
        store = pbx.store
        settings.set_value(store, None, "trunks.dns_servers", f"127.0.0.1:{dns_port}")
        users.add_user(store, None, {"extension": CALLER, "name": "Caller"}, sip_password=password_for(CALLER))
        catalog.set_acl(store, None, "default", ["internal", "national", "mobile", "international"])
        model.add_trunk(store, None, {"name": "provider", "host": "provider.test", "login": "acme"})
        procedures.add_entry(store, None, "users", "0[67].", [
            {"app": "set_called", "params": {"strip": 1}}, {"app": "dial_trunk", "params": {"trunk": "provider"}}])
        await pbx.start()
        from wpbxd.events import CallTrace

        pbx.bus.subscribe(CallTrace, lambda e: lines.append(e.text))
        try:
            assert await _phone_call(pbx, work, "0612345678", sipp.uac_call()) == 0, sipp.errors(work)
        finally:
            await pbx.stop()

    try:
        asyncio.run(main())
        assert f"trunk provider: 503 from 127.0.0.1:{first_port}, trying the next address" in lines
        assert _finish(first) == 0 and _finish(second) == 0, sipp.errors(work)
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
