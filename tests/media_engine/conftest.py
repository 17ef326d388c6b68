"""Fixtures of the media-engine tests: a shared cache for generated prompts, tool checks,
and a real SMTP server (aiosmtpd) collecting what the PBX mails."""

import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.daemon_runner import free_port

CACHE = Path(__file__).resolve().parents[1] / "artifacts" / "sounds-cache"


@pytest.fixture(autouse=True)
def sounds_cache(monkeypatch):
    """Generated prompts are cached across runs (espeak-ng runs once per text)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("WPBX_SOUNDS_CACHE", str(CACHE))
    return CACHE


def need_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: see deps/apt-test.txt)")


def sox_has_mp3() -> bool:
    return any(Path(p).exists() for p in ("/usr/lib/x86_64-linux-gnu/sox/libsox_fmt_mp3.so",
                                          "/usr/lib/aarch64-linux-gnu/sox/libsox_fmt_mp3.so")) \
        or "mp3" in os.popen("sox -h 2>/dev/null").read().split("AUDIO FILE FORMATS:")[-1].split("\n")[0]


class Inbox:
    """What the SMTP server received: (recipients, raw message) per mail."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """An aiosmtpd server on loopback: yields (inbox, port)."""
    controller_mod = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in deps/pip-test.txt")
    inbox = Inbox()
    controller = controller_mod.Controller(inbox, hostname="127.0.0.1", port=free_port(socket.SOCK_STREAM))
    controller.start()
    yield inbox, controller.port
    controller.stop()
