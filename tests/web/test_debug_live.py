"""Debug page (seed: secondary menu item 12): the live call log from the bus, on the
page and as Server-Sent Events, while a real sipp call goes through the PBX."""

import threading
import time

import pytest

from tests.conftest import need_tool
from wpbxd.web.livelog import LiveLog


def test_live_log_numbers_lines_keeps_the_last_ones_and_wakes_waiters():
    log = LiveLog(keep=3)
    for i in range(5):
        log.append(100.0 + i, "c1", "trace", f"line {i}")
    assert [line.seq for line in log.since(0)] == [3, 4, 5]
    assert log.wait(5, timeout=0.01) == []
    threading.Timer(0.05, lambda: log.append(200.0, "c2", "started", "new call")).start()
    assert [line.text for line in log.wait(5, timeout=5)] == ["new call"]


def test_debug_page_and_event_stream_show_a_real_call(web, tmp_path):
    need_tool("sipp")
    if "calls.list" not in web.daemon.call("help"):
        pytest.skip("the SIP service is not in this daemon")
    e2e = pytest.importorskip("tests.dialplan.test_e2e_sip", reason="the SIP e2e helpers are needed")
    admin = web.admin()
    for ext in ("4301", "4302"):
        web.daemon.call("user.add", {"name": f"Debug {ext}", "extension": ext,
                                     "sip_password": e2e.PASSWORD.format(ext=ext)})
    received: list[str] = []
    stream = admin.get(web.base + "/debug/events", stream=True, timeout=30)
    assert stream.headers["Content-Type"].startswith("text/event-stream")

    def read() -> None:
        for raw in stream.iter_lines(decode_unicode=True):
            received.append(raw)
            if raw.startswith("data:") and received[-2:-1] == ["event: ended"]:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    pbx = web.daemon
    pbx.folder, pbx.uas_procs = tmp_path, []
    try:
        callee = e2e.phone(pbx, "4302", "answer")
        e2e.ok(pbx, e2e.call(pbx, "4302", caller="4301"))
        assert e2e.finished(callee) == 0
    finally:
        for proc in pbx.uas_procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    reader.join(15)
    stream.close()
    events = [line for line in received if line.startswith(("event:", "data:"))]
    assert "event: started" in events and "event: ended" in events, "\n".join(received)
    assert any("4301 -> 4302" in line for line in events)
    page = web.get(admin, "/debug").text
    assert "new call 4301 -&gt; 4302" in page and "call ended" in page
    time.sleep(0.2)  # the stream's worker releases its slot once the server sees the close


def test_closing_the_live_log_wakes_a_waiting_stream_at_once():
    log = LiveLog()
    threading.Timer(0.05, log.close).start()
    assert log.wait(0, timeout=30) == [] and log.closed
