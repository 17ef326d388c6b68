"""The daemon process: control socket, wpbxctl, single instance, signals, sd_notify."""

import json
import os
import signal
import socket
import subprocess
import sys

from tests.daemon_runner import REPO, Wpbxd, free_port, free_rtp_range

GOOD = "G00d!pass"


def test_wpbxctl_adds_and_lists_users_as_json(wpbxd):
    wpbxd.ctl("user", "add", "--extension", "101", "--name", "Alice", "--sip-password", GOOD,
              "--web-password", "W3b!passw", "--email", "alice@example.org")
    rows = json.loads(wpbxd.ctl("user", "list", "--json").stdout)
    assert {r["extension"] for r in rows} == {"101", None}
    assert all("sip_password" not in r and "web_password_hash" not in r for r in rows)
    status = json.loads(wpbxd.ctl("status", "--json").stdout)
    assert status["users"] == 2 and status["mode"] == "host"


def test_wpbxctl_errors_are_one_line_and_non_zero(wpbxd):
    weak = wpbxd.ctl("user", "add", "--extension", "101", "--name", "A", "--sip-password", "weak", check=False)
    assert weak.returncode != 0
    assert weak.stderr.count("\n") == 1 and "sip_password" in weak.stderr
    missing = wpbxd.ctl("user", "show", "999", check=False)
    assert missing.returncode == 1 and "no user" in missing.stderr


def test_csv_import_through_wpbxctl_reports_the_bad_line(wpbxd, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,extension\nAlice,101\nBob,1x2\n")
    result = wpbxd.ctl("user", "import", str(bad), check=False)
    assert result.returncode == 1 and "line 3" in result.stderr
    assert len(json.loads(wpbxd.ctl("user", "list", "--json").stdout)) == 1
    good = tmp_path / "good.csv"
    good.write_text("name,extension\nAlice,101\nBob,102\n")
    assert "imported 2 users" in wpbxd.ctl("user", "import", str(good)).stdout


def test_malformed_control_requests_do_not_hurt_the_daemon(wpbxd):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(wpbxd.data_dir / "wpbxd.sock"))
        s.sendall(b"this is not json\n{\"cmd\": 5}\n{\"cmd\": \"nope\"}\n")
        reader = s.makefile()
        replies = [json.loads(reader.readline()) for _ in range(3)]
    assert [r["ok"] for r in replies] == [False, False, False]
    assert "malformed" in replies[0]["error"] and "unknown command" in replies[2]["error"]
    assert wpbxd.call("status")["users"] == 1


def test_second_instance_on_same_data_dir_refuses_to_start(wpbxd):
    result = subprocess.run(
        [sys.executable, "-m", "wpbxd.daemon", "--data", str(wpbxd.data_dir),
         "--sip-listen", f"127.0.0.1:{free_port()}", "--console-tty", "none"],
        capture_output=True, text=True, cwd=REPO, timeout=30,
    )
    assert result.returncode == 1
    assert "already running" in result.stderr
    assert wpbxd.call("status")["pid"] == wpbxd.proc.pid


def test_sigterm_stops_cleanly_and_data_persists(wpbxd_factory, tmp_path):
    daemon = wpbxd_factory()
    daemon.ctl("user", "add", "--extension", "101", "--name", "Alice")
    assert daemon.stop(signal.SIGTERM) == 0
    assert not (daemon.data_dir / "wpbxd.sock").exists()
    again = wpbxd_factory(data_dir=daemon.data_dir)
    assert again.call("user.show", {"ref": "101"})["name"] == "Alice"


def test_sighup_reloads_without_stopping(wpbxd):
    pid = wpbxd.call("status")["pid"]
    os.kill(pid, signal.SIGHUP)
    assert wpbxd.call("status")["pid"] == pid
    assert "reloading" in wpbxd.log()


def test_sd_notify_ready_is_sent(tmp_path):
    notify_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(20)
    daemon = Wpbxd(tmp_path / "pbx", free_port(), free_port(), free_rtp_range())
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wpbxd.daemon", "--data", str(daemon.data_dir),
         "--sip-listen", f"127.0.0.1:{daemon.sip_port}", "--web-listen", f"127.0.0.1:{daemon.web_port}",
         "--rtp-ports", f"{daemon.rtp[0]}-{daemon.rtp[1]}", "--console-tty", "none"],
        env=env, cwd=REPO, stderr=subprocess.DEVNULL,
    )
    try:
        assert listener.recv(100) == b"READY=1"
    finally:
        proc.terminate()
        proc.wait(15)
        listener.close()
