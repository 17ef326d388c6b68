"""The control socket: JSON lines on a Unix socket in the data directory.

Request: one JSON object per line, ``{"cmd": "user.add", "args": {...}}``.
Reply: one line ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.
A *streaming* command (``calls.follow``) replies with ``{"ok": true, "stream": true}``
and then one ``{"event": ...}`` line per item until the client disconnects.

Services register their commands at start-up with ``register``; handlers get the
``args`` dict and return something JSON-serialisable (sync or async). A
``UserError`` becomes ``ok: false`` with its message; any other exception is
logged and reported as an internal error — the daemon keeps running either way.
"""

import asyncio
import grp
import inspect
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from wpbxd.errors import UserError

log = logging.getLogger(__name__)

MAX_LINE = 4 * 1024 * 1024  # bytes; a CSV import travels in one request
SOCKET_GROUP = "wpbx"
Handler = Callable[[dict[str, Any]], Any]


class ControlServer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._handlers: dict[str, Handler] = {}
        self._streams: dict[str, Callable[[dict[str, Any]], AsyncIterator[Any]]] = {}
        self._server: asyncio.AbstractServer | None = None
        self.register("help", lambda args: sorted([*self._handlers, *self._streams]))

    def register(self, name: str, handler: Handler) -> None:
        if name in self._handlers or name in self._streams:
            raise ValueError(f"control command {name!r} registered twice")
        self._handlers[name] = handler

    def register_stream(self, name: str, source: Callable[[dict[str, Any]], AsyncIterator[Any]]) -> None:
        if name in self._handlers or name in self._streams:
            raise ValueError(f"control command {name!r} registered twice")
        self._streams[name] = source

    async def start(self) -> None:
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE)
        os.chmod(self.path, 0o660)
        try:  # on the appliance, the console accounts (group wpbx) may use the socket
            os.chown(self.path, -1, grp.getgrnam(SOCKET_GROUP).gr_gid)
        except (KeyError, PermissionError):
            pass

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self.path.exists():
            self.path.unlink()

    async def call(self, cmd: str, args: dict[str, Any]) -> Any:
        """Run one command in-process (the same path as a socket request)."""
        handler = self._handlers.get(cmd)
        if handler is None:
            raise UserError(f"unknown command {cmd!r}")
        result = handler(args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._send(writer, {"ok": False, "error": "request too long"})
                    break
                if not line:
                    break
                try:
                    request = json.loads(line)
                    cmd = request["cmd"]
                    args = request.get("args") or {}
                    if not isinstance(cmd, str) or not isinstance(args, dict):
                        raise TypeError
                except (ValueError, KeyError, TypeError):
                    await self._send(writer, {"ok": False, "error": "malformed request"})
                    continue
                if cmd in self._streams:
                    await self._stream(cmd, args, writer)
                    break
                await self._send(writer, await self._reply(cmd, args))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _reply(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"ok": True, "result": await self.call(cmd, args)}
        except UserError as err:
            return {"ok": False, "error": str(err)}
        except Exception as err:
            log.exception("control command %s failed", cmd)
            return {"ok": False, "error": f"internal error: {type(err).__name__}: {err}"}

    async def _stream(self, cmd: str, args: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        await self._send(writer, {"ok": True, "stream": True})
        async for item in self._streams[cmd](args):
            await self._send(writer, {"event": item})

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        writer.write(json.dumps(message, default=str).encode() + b"\n")
        await writer.drain()
