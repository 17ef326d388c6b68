"""Outbound trunk registration against real peers (issue 8; RFC 3261 §10, §22).

sipp plays the provider's registrar (scenario ``scenarios/provider_register.xml``):
it challenges, checks the digest answer, grants 4 s and expects the refresh.
"""

import asyncio
import subprocess
from pathlib import Path

from tests.conftest import need_tool
from tests.daemon_runner import free_port
from tests.trunks.harness import wait_for, with_runtime
from wpbxd.telephony.trunks.model import Trunk

SCENARIOS = Path(__file__).parent / "scenarios"


def _provider(tmp_path: Path, port: int) -> subprocess.Popen:
    need_tool("sipp")
    return subprocess.Popen(["sipp", "-sf", str(SCENARIOS / "provider_register.xml"), "-i", "127.0.0.1",
                             "-p", str(port), "-m", "1", "-nostdin", "-trace_err", "-timeout", "30s",
                             "-timeout_error"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _trunk(port: int, password: str) -> Trunk:
    return Trunk(name="provider", login="acme", host=f"127.0.0.1:{port}", domain="provider.test",
                 password=password, register=True)


def test_trunk_registers_through_the_challenge_and_refreshes(tmp_path):
    port = free_port()
    sipp = _provider(tmp_path, port)

    async def body(runtime):
        state = runtime.states["provider"]
        await wait_for(lambda: state.registration.registrations >= 2, 15, "a refreshed registration")
        row = runtime.status()[0]
        assert row["status"] == "registered" and row["registered_to"] == f"127.0.0.1:{port}"
        assert row["expires_in"] > 4                 # the refresh got 60 s

    try:
        asyncio.run(with_runtime([_trunk(port, "s3cret")], body))
        assert sipp.wait(timeout=30) == 0, sipp.stderr.read().decode(errors="replace")[-2000:]
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()


def test_wrong_password_shows_the_providers_refusal(tmp_path):
    port = free_port()
    sipp = _provider(tmp_path, port)

    async def body(runtime):
        await wait_for(lambda: runtime.status()[0]["status"] == "failed", 15, "a failed registration")
        row = runtime.status()[0]
        assert row["last_error"] == "403 Wrong password"
        assert runtime.available("provider") == (True, "")   # failed, not down: calls may still be tried

    try:
        asyncio.run(with_runtime([_trunk(port, "not-the-password")], body, retry_base=60))
    finally:
        if sipp.poll() is None:
            sipp.kill()
        sipp.wait()


KAMAILIO_CFG = Path(__file__).parent / "kamailio-provider.cfg"


def start_kamailio(tmp_path: Path, port: int, password: str) -> subprocess.Popen:
    need_tool("kamailio")
    proc = subprocess.Popen(["kamailio", "-DD", "-E", "-f", str(KAMAILIO_CFG), "-l", f"udp:127.0.0.1:{port}",
                             "-A", f'PROVIDER_PASSWORD="{password}"', "-m", "64", "-Y", str(tmp_path / "kam-run")],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "kamailio.log", "wb"), cwd=tmp_path)
    return proc


def stop_kamailio(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_trunk_registers_at_kamailio_with_digest(tmp_path):
    port = free_port()
    (tmp_path / "kam-run").mkdir()
    kam = start_kamailio(tmp_path, port, "s3cret")

    async def body(runtime):
        await wait_for(lambda: runtime.status()[0]["status"] == "registered", 15, "registered at Kamailio")
        row = runtime.status()[0]
        assert row["expires_in"] >= 60

    try:
        asyncio.run(with_runtime([_trunk(port, "s3cret")], body))
        log = (tmp_path / "kamailio.log").read_text(errors="replace")
        accepted = [line for line in log.splitlines() if "REGISTER accepted for sip:acme@provider.test" in line]
        assert accepted[0].endswith("expires 300")
        assert accepted[-1].endswith("expires 0")      # stopping removes the binding (RFC 3261 §10.2.2)
    finally:
        stop_kamailio(kam)


def test_keepalive_marks_a_silent_trunk_down_and_up_again(tmp_path):
    port = free_port()
    (tmp_path / "kam-run").mkdir()
    kam = start_kamailio(tmp_path, port, "s3cret")
    trunk = Trunk(name="provider", login="acme", host=f"127.0.0.1:{port}", domain="provider.test",
                  password="s3cret", keepalive=1)

    async def body(runtime):
        state = runtime.states["provider"]
        await wait_for(lambda: state.keepalive.last_answer is not None, 10, "an OPTIONS answer")
        assert runtime.available("provider") == (True, "")
        stop_kamailio(kam)
        await wait_for(lambda: not runtime.available("provider")[0], 10, "the trunk marked down")
        assert runtime.available("provider") == (False, "down (keep-alive unanswered)")
        assert runtime.status()[0]["status"] == "down"
        again = start_kamailio(tmp_path, port, "s3cret")
        try:
            await wait_for(lambda: runtime.available("provider")[0], 15, "the trunk back up")
        finally:
            stop_kamailio(again)

    try:
        asyncio.run(with_runtime([trunk], body))
    finally:
        if kam.poll() is None:
            stop_kamailio(kam)
