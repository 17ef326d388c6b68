"""The heap service gives freed C-heap pages back after a configuration change."""

import time

from wpbxd.services.heap import HeapTrimService

WAIT_S = 10.0


def test_heap_trim_is_available_and_runs():
    service = HeapTrimService(None)        # trim() needs no context
    assert service.trim() is True          # glibc: this machine's C library
    assert service.trims == 1


def test_daemon_trims_after_a_user_change(wpbxd):
    before = wpbxd.call("status")["heap"]
    assert before["malloc_trim"] is True
    wpbxd.ctl("user", "add", "--extension", "301", "--name", "Heap", "--sip-password", "Sip_301pw!x",
              "--web-password", "Web_301pw!x")
    deadline = time.monotonic() + WAIT_S
    while wpbxd.call("status")["heap"]["trims"] <= before["trims"]:
        assert time.monotonic() < deadline, "no trim after the user was added"
        time.sleep(0.2)
