"""Calls between sipp user agents registered as users, through the B2BUA and the RTP relay.

RFC 3261 §13-15 (INVITE, CANCEL, BYE), §14 (re-INVITE), RFC 3264 (hold with
sendonly); the dialplan's factory ``users`` -> ``pbxinternal`` routing rings the
called extension.
"""

import json
import time

from tests.daemon_runner import free_port
from tests.sip import sipp
from tests.sip.conftest import add_users, password_for

PCAP = "/usr/share/sip-tester/g711a.pcap"
CALLER, CALLEE = "3001", "3002"


def register_at(pbx, sipp_dir, ext: str, port: int) -> None:
    scenario = sipp.write(sipp_dir / "register.xml", sipp.register())
    users = sipp.users_csv(sipp_dir / f"reg-{ext}.csv", [(ext, password_for(ext))])
    result = sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1", "-p", str(port),
                      cwd=sipp_dir)
    assert result.returncode == 0, sipp.errors(sipp_dir) or result.stderr[-2000:]


def start_uas(pbx, sipp_dir, mode: str, port: int, *extra: str):
    scenario = sipp.write(sipp_dir / f"uas-{mode}.xml", sipp.uas(mode))
    return sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-m", "1", "-p", str(port), *extra,
                    cwd=sipp_dir, wait=False, timeout=30)


def call_from(pbx, sipp_dir, text: str, callee: str = CALLEE, *extra: str, caller: str = CALLER,
              password: str | None = None):
    scenario = sipp.write(sipp_dir / "uac.xml", text)
    users = sipp.users_csv(sipp_dir / "uac.csv", [(caller, password or password_for(caller))], callee=callee)
    return sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1",
                    "-p", str(free_port()), *extra, cwd=sipp_dir, timeout=30)


def finish(proc) -> int:
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def last_cdr(pbx, count: int = 1) -> list[dict]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = pbx.call("cdr.list", {"limit": count})
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    raise AssertionError("no CDR written")


def setup(pbx, sipp_dir, mode: str, *uas_extra: str):
    add_users(pbx, [CALLER, CALLEE])
    uas_port = free_port()
    register_at(pbx, sipp_dir, CALLEE, uas_port)
    return start_uas(pbx, sipp_dir, mode, uas_port, *uas_extra)


def call_with_rtp(pbx, sipp_dir, scenario_text: str) -> dict | None:
    """Run a sipp caller (RTP from a pcap) to the sipp UAS echoing RTP; the relay's
    stats once RTP flowed both ways, else ``None``. Both sipps must succeed."""
    uas = setup(pbx, sipp_dir, "answer", "-rtp_echo", "-mp", str(free_port()))
    scenario = sipp.write(sipp_dir / "uac.xml", scenario_text)
    users = sipp.users_csv(sipp_dir / "uac.csv", [(CALLER, password_for(CALLER))], callee=CALLEE)
    uac = sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1", "-d", "3000",
                   "-p", str(free_port()), "-mp", str(free_port()), cwd=sipp_dir, wait=False, timeout=30)
    media = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and uac.poll() is None:
        calls = pbx.call("calls.list")
        if calls and calls[0]["state"] == "answered" and calls[0]["media"]:
            stats = calls[0]["media"][0]
            if stats["a_to_b"]["packets"] > 20 and stats["b_to_a"]["packets"] > 20:
                media = stats
                break
        time.sleep(0.2)
    assert finish(uac) == 0, sipp.errors(sipp_dir)
    assert finish(uas) == 0, sipp.errors(sipp_dir)
    return media


def test_answered_call_relays_rtp_both_ways_and_writes_a_cdr(wpbxd, sipp_dir):
    media = call_with_rtp(wpbxd, sipp_dir, sipp.uac_call(pcap=PCAP))
    assert media is not None, "RTP did not flow both ways through the relay"
    cdr = last_cdr(wpbxd)[0]
    assert cdr["disposition"] == "ANSWERED" and cdr["caller_number"] == CALLER and cdr["callee_number"] == CALLEE
    assert cdr["codec"] == "PCMA" and cdr["hangup_side"] == "caller"
    assert cdr["billsec"] >= 2 and cdr["duration"] >= cdr["billsec"]
    assert cdr["caller_call_id"] and cdr["callee_call_id"] and cdr["caller_call_id"] != cdr["callee_call_id"]
    assert wpbxd.call("calls.list") == []


def test_caller_cancel_gets_487_and_callee_gets_cancel(wpbxd, sipp_dir):
    uas = setup(wpbxd, sipp_dir, "ring")
    result = call_from(wpbxd, sipp_dir, sipp.uac_cancel())
    assert result.returncode == 0, sipp.errors(sipp_dir)
    assert finish(uas) == 0, sipp.errors(sipp_dir)
    cdr = last_cdr(wpbxd)[0]
    assert cdr["disposition"] == "NO ANSWER" and cdr["hangup_side"] == "caller" and cdr["billsec"] == 0


def test_busy_callee_gives_486_to_the_caller(wpbxd, sipp_dir):
    uas = setup(wpbxd, sipp_dir, "busy")
    result = call_from(wpbxd, sipp_dir, sipp.uac_expect(486))
    assert result.returncode == 0, sipp.errors(sipp_dir)
    assert finish(uas) == 0, sipp.errors(sipp_dir)
    assert last_cdr(wpbxd)[0]["disposition"] == "BUSY"
    listed = json.loads(wpbxd.ctl("cdr", "list", "--limit", "5", "--json").stdout)
    assert [r["disposition"] for r in listed] == ["BUSY"]
    assert "BUSY" in wpbxd.ctl("cdr", "list").stdout


def test_unknown_number_gets_404(wpbxd, sipp_dir):
    add_users(wpbxd, [CALLER])
    result = call_from(wpbxd, sipp_dir, sipp.uac_expect(404), callee="3999")
    assert result.returncode == 0, sipp.errors(sipp_dir)
    assert last_cdr(wpbxd)[0]["disposition"] == "FAILED"


def test_extension_without_registration_gets_480(wpbxd, sipp_dir):
    add_users(wpbxd, [CALLER, CALLEE])
    result = call_from(wpbxd, sipp_dir, sipp.uac_expect(480))
    assert result.returncode == 0, sipp.errors(sipp_dir)


def test_caller_with_wrong_password_gets_403_after_the_challenge(wpbxd, sipp_dir):
    add_users(wpbxd, [CALLER, CALLEE])
    result = call_from(wpbxd, sipp_dir, sipp.uac_expect(403), password="Wrong#pass1")
    assert result.returncode == 0, sipp.errors(sipp_dir)
    assert wpbxd.call("status")["sip"]["auth_failures"] == 1
    assert wpbxd.call("cdr.list") == []


def test_hold_and_resume_reinvites_pass_through(wpbxd, sipp_dir):
    uas = setup(wpbxd, sipp_dir, "hold")
    followed = []

    import threading

    from wpbxd.console import client

    def follow():
        for event in client.stream(wpbxd.data_dir, "calls.follow"):
            followed.append(event)
            if event.get("type") == "ended":
                return

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    time.sleep(0.3)
    result = call_from(wpbxd, sipp_dir, sipp.uac_call(hold=True), CALLEE, "-d", "500")
    assert result.returncode == 0, sipp.errors(sipp_dir)
    assert finish(uas) == 0, sipp.errors(sipp_dir)
    watcher.join(5)
    texts = [e.get("text", "") for e in followed]
    assert any("re-INVITE from the caller (sendonly)" in t for t in texts), texts
    assert any("re-INVITE from the caller (sendrecv)" in t for t in texts), texts
    assert any("matches" in t for t in texts)         # dialplan trace lines are streamed too
    assert last_cdr(wpbxd)[0]["disposition"] == "ANSWERED"


def test_forking_rings_every_contact_first_answer_wins_others_get_cancel(wpbxd, sipp_dir):
    """Two phones registered for one user: both ring, one answers, the other gets CANCEL."""
    add_users(wpbxd, [CALLER, CALLEE])
    ringing_port, answering_port = free_port(), free_port()
    register_at(wpbxd, sipp_dir, CALLEE, ringing_port)
    register_at(wpbxd, sipp_dir, CALLEE, answering_port)
    assert len(wpbxd.call("registrations.list")) == 2
    ringer = start_uas(wpbxd, sipp_dir, "ring", ringing_port)
    answerer = start_uas(wpbxd, sipp_dir, "answer", answering_port)
    result = call_from(wpbxd, sipp_dir, sipp.uac_call(), CALLEE, "-d", "500")
    assert result.returncode == 0, sipp.errors(sipp_dir)
    assert finish(answerer) == 0, sipp.errors(sipp_dir)
    assert finish(ringer) == 0, sipp.errors(sipp_dir)       # it got CANCEL and answered 487
    assert last_cdr(wpbxd)[0]["disposition"] == "ANSWERED"


def test_sigterm_hangs_up_active_calls_with_bye_and_writes_their_cdr(wpbxd_factory, sipp_dir):
    pbx = wpbxd_factory()
    uas = setup(pbx, sipp_dir, "answer")
    scenario = sipp.write(sipp_dir / "uac.xml", sipp.uac_call())
    users = sipp.users_csv(sipp_dir / "uac.csv", [(CALLER, password_for(CALLER))], callee=CALLEE)
    uac = sipp.run(scenario, f"127.0.0.1:{pbx.sip_port}", "-inf", str(users), "-m", "1", "-d", "20000",
                   "-p", str(free_port()), cwd=sipp_dir, wait=False, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(c["state"] == "answered" for c in pbx.call("calls.list")):
        time.sleep(0.1)
    assert pbx.stop() == 0
    assert finish(uas) == 0, sipp.errors(sipp_dir)          # the callee got a BYE
    uac.kill()
    uac.wait()
    again = wpbxd_factory(data_dir=pbx.data_dir, sip_port=pbx.sip_port)
    cdr = again.call("cdr.list")[0]
    assert cdr["disposition"] == "ANSWERED" and cdr["hangup_side"] == "pbx"
    assert "shutting down" in cdr["hangup_cause"]


def test_caller_over_tcp_calls_callee_over_udp(wpbxd, sipp_dir):
    """RFC 3261 §18: the caller's leg on TCP (framed by Content-Length), the callee's on UDP."""
    uas = setup(wpbxd, sipp_dir, "answer")
    result = call_from(wpbxd, sipp_dir, sipp.uac_call(), CALLEE, "-t", "t1", "-d", "300")
    assert result.returncode == 0, sipp.errors(sipp_dir) or result.stderr[-1000:]
    assert finish(uas) == 0, sipp.errors(sipp_dir)
    assert last_cdr(wpbxd)[0]["disposition"] == "ANSWERED"


def test_delayed_offer_caller_gets_the_offer_in_the_200_and_answers_in_the_ack(wpbxd, sipp_dir):
    """RFC 3261 §13.2.1: an INVITE without SDP. The PBX offers in its 200 OK, the ACK
    answers, and RTP flows both ways through the relay."""
    media = call_with_rtp(wpbxd, sipp_dir, sipp.uac_delayed_offer(pcap=PCAP))
    assert media is not None, "RTP did not flow both ways through the relay"
    cdr = last_cdr(wpbxd)[0]
    assert cdr["disposition"] == "ANSWERED" and cdr["codec"] == "PCMA" and cdr["hangup_side"] == "caller"


def test_delayed_offer_caller_that_does_not_answer_in_the_ack_is_hung_up(wpbxd, sipp_dir):
    uas = setup(wpbxd, sipp_dir, "answer")
    scenario = sipp.write(sipp_dir / "uac.xml", sipp.uac_delayed_offer(answer=False))
    users = sipp.users_csv(sipp_dir / "uac.csv", [(CALLER, password_for(CALLER))], callee=CALLEE)
    uac = sipp.run(scenario, f"127.0.0.1:{wpbxd.sip_port}", "-inf", str(users), "-m", "1",
                   "-p", str(free_port()), cwd=sipp_dir, wait=False, timeout=30)
    assert finish(uac) == 0, sipp.errors(sipp_dir)      # it got the PBX's BYE
    assert finish(uas) == 0, sipp.errors(sipp_dir)      # and so did the callee
    cdr = last_cdr(wpbxd)[0]
    assert cdr["hangup_side"] == "pbx" and "no SDP answer" in cdr["hangup_cause"]
    assert wpbxd.call("status")["pid"]


def test_delayed_offer_caller_reaches_the_pbxs_own_media(wpbxd, sipp_dir):
    """The echo test (76) answers a delayed offer with the codec the PBX chose."""
    add_users(wpbxd, [CALLER])
    scenario = sipp.write(sipp_dir / "uac.xml", sipp.uac_delayed_offer(pcap=PCAP))
    users = sipp.users_csv(sipp_dir / "uac.csv", [(CALLER, password_for(CALLER))], callee="76")
    uac = sipp.run(scenario, f"127.0.0.1:{wpbxd.sip_port}", "-inf", str(users), "-m", "1", "-d", "4000",
                   "-p", str(free_port()), "-mp", str(free_port()), cwd=sipp_dir, wait=False, timeout=30)
    heard = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and uac.poll() is None:
        calls = wpbxd.call("calls.list")
        if calls and calls[0]["media"]:
            heard = max(heard, calls[0]["media"][0]["b_to_a"]["packets"])
        time.sleep(0.2)
    assert finish(uac) == 0, sipp.errors(sipp_dir)
    assert heard > 50, f"the PBX sent {heard} packets to the caller"
    cdr = last_cdr(wpbxd)[0]
    assert cdr["disposition"] == "ANSWERED" and cdr["callee_number"] == "76"
