"""Client side of the control socket (``DATA/wpbxd.sock``, JSON lines).

Used by ``wpbxctl`` and the console menus. ``request`` sends one command and
returns its result or raises ``ControlError`` with the daemon's message;
``stream`` yields the events of a streaming command.
"""

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SOCKET_NAME = "wpbxd.sock"
TIMEOUT = 30.0  # seconds for a non-streaming reply


class ControlError(Exception):
    pass


def _connect(data_dir: Path, timeout: float | None) -> socket.socket:
    path = Path(data_dir) / SOCKET_NAME
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        raise ControlError(f"wpbxd is not running (no control socket at {path})") from None
    except PermissionError:
        sock.close()
        raise ControlError(f"permission denied on {path}") from None
    return sock


def _lines(sock: socket.socket) -> Iterator[dict[str, Any]]:
    buffer = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            if buffer.strip():
                yield json.loads(buffer)
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def request(data_dir: Path, cmd: str, args: dict[str, Any] | None = None,
            timeout: float = TIMEOUT) -> Any:
    with _connect(data_dir, timeout) as sock:
        sock.sendall(json.dumps({"cmd": cmd, "args": args or {}}).encode() + b"\n")
        try:
            for reply in _lines(sock):
                if not reply.get("ok"):
                    raise ControlError(reply.get("error", "unknown error"))
                return reply.get("result")
        except TimeoutError:
            raise ControlError(f"no answer from wpbxd within {timeout:.0f} s") from None
    raise ControlError("wpbxd closed the connection without answering")


def stream(data_dir: Path, cmd: str, args: dict[str, Any] | None = None) -> Iterator[Any]:
    with _connect(data_dir, None) as sock:
        sock.sendall(json.dumps({"cmd": cmd, "args": args or {}}).encode() + b"\n")
        first = True
        for reply in _lines(sock):
            if first:
                first = False
                if not reply.get("ok"):
                    raise ControlError(reply.get("error", "unknown error"))
                continue
            yield reply.get("event")
