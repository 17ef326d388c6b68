"""Fixtures shared by every test area."""

import os
import shutil

import pytest

from tests.daemon_runner import Wpbxd, free_port, free_rtp_range


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


def need_tool(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"missing tool(s): {', '.join(missing)} (make test installs them)")


@pytest.fixture
def wpbxd_factory(tmp_path):
    """Start real wpbxd processes on free loopback ports; all stopped at the end."""
    started: list[Wpbxd] = []

    def start(name: str = "pbx", extra_args: list[str] | None = None, **kw) -> Wpbxd:
        daemon = Wpbxd(
            data_dir=kw.get("data_dir", tmp_path / name),
            sip_port=kw.get("sip_port") or free_port(),
            web_port=kw.get("web_port") or free_port(),
            rtp=kw.get("rtp") or free_rtp_range(),
            extra_args=extra_args or [],
        ).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.stop()


@pytest.fixture
def wpbxd(wpbxd_factory):
    return wpbxd_factory()
