"""The systemd watchdog pings, received on a notify socket the test owns (sd_notify protocol)."""

import socket

from wpbxd.hw.watchdog import watchdog_interval


def test_interval_is_half_the_period_and_only_for_the_watched_pid():
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}, 42) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 42) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 42) is None
    assert watchdog_interval({}, 42) is None
    assert watchdog_interval({"WATCHDOG_USEC": "junk"}, 42) is None


def test_daemon_says_ready_then_keeps_pinging(wpbxd_factory, tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(20)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "400000")
        daemon = wpbxd_factory()
        messages = []
        while messages.count(b"WATCHDOG=1") < 3:
            messages.append(sock.recv(4096))
        assert b"READY=1" in messages
        assert daemon.call("status")["watchdog"]["interval"] == 0.2
