"""Blocked ports indicator groundwork: bound on the LAN side or not (reads /proc/net)."""

import socket

from wpbxd.net import ports_check


def test_a_wildcard_socket_is_green_loopback_only_is_yellow_nothing_is_red():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wild, \
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as loop:
        wild.bind(("0.0.0.0", 0))
        loop.bind(("127.0.0.1", 0))
        loop.listen()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            unused = probe.getsockname()[1]
        results = ports_check.check([("sip", "udp", wild.getsockname()[1]),
                                     ("web", "tcp", loop.getsockname()[1]),
                                     ("prov", "tcp", unused)], ["10.135.0.1"])
    assert [r.status for r in results] == ["green", "yellow", "red"]
    assert results[1].bound_on == ("127.0.0.1",)
    assert ports_check.overall(results) == "red"
    assert ports_check.overall(results[:1]) == "green"
