"""Console page (seed: secondary menu item 11, "Console : accéder à la console"):
``wpbx-console`` in a server-side pty, for the super admin only.

The page shows the terminal's screen in a ``<pre>``; output streams to it as
Server-Sent Events and keystrokes come back as small POSTs carrying the CSRF
token (``static/console.js``). Without scripts the page still works: a form
sends one line and the page is reloaded. One terminal per web session; it ends
on logout, on session timeout, when no page has followed it for a while, on
*End console*, and its process is killed by its PID (``webconsole``).
"""

import json
import threading
import time
from typing import Any

import bottle

from wpbxd.web import access
from wpbxd.web.kit import Kit, form, query
from wpbxd.web.webconsole import MAX_INPUT, Consoles, screen

STREAM_KEEPALIVE = 5.0  # seconds between SSE comments on a quiet stream
STREAM_LIFETIME = 300.0  # seconds before a stream ends (the browser reconnects where it left off)
MAX_STREAMS = 2  # console streams at once (each holds a web worker thread)
START_WAIT = 5.0  # seconds a new terminal's first output (its menu) is waited for
ANSWER_WAIT = 1.0  # seconds a line sent without scripts waits for the program's first output
MODE_TTL = 60.0  # seconds the daemon's mode (from ``status``) is reused


def install(app: bottle.Bottle, kit: Kit) -> None:
    env, page, render, me, session = kit.env, kit.page, kit.render, kit.me, kit.session
    store = env.store

    def session_alive(key: str) -> bool:
        row = store.one("SELECT last_seen FROM web_sessions WHERE token_hash = ?", (key,))
        return row is not None and kit.now() - row["last_seen"] <= kit.idle()

    consoles = Consoles(env.data_dir, session_alive)
    streams = threading.BoundedSemaphore(MAX_STREAMS)

    def mode() -> str:
        try:
            return str(env.cached("status", MODE_TTL).get("mode") or "host")
        except Exception:
            return "host"

    def check() -> None:
        access.check_super(me(), "use the console")

    @app.get("/console")
    @page
    def console() -> str:
        check()
        term = consoles.open(session().token_hash, mode())
        chunks = term.since(0) or term.wait(0, START_WAIT)  # keys sent before the menu shows are lost
        return render("console", "Console", "console", text=screen(chunks),
                      last=chunks[-1].seq if chunks else 0, pid=term.pid)

    @app.get("/console/events")
    @page
    def console_events() -> Any:
        """Server-Sent Events: output chunks after ``Last-Event-ID`` (or ``?after=``), JSON strings."""
        check()
        term = consoles.get(session().token_hash)
        if term is None:
            bottle.abort(404, "no console is open: open the Console page again")
        raw = bottle.request.get_header("Last-Event-ID") or query().get("after", "0")
        after = int(raw) if raw.isdigit() else 0
        if not streams.acquire(blocking=False):
            bottle.abort(503, "too many console views open; close one")
        term.followers += 1

        def stream() -> Any:
            seq, deadline = after, time.monotonic() + STREAM_LIFETIME
            try:
                yield "retry: 2000\n\n"
                while time.monotonic() < deadline:
                    chunks = term.wait(seq, STREAM_KEEPALIVE)
                    for chunk in chunks:
                        yield f"id: {chunk.seq}\ndata: {json.dumps(chunk.text)}\n\n"
                        seq = chunk.seq
                    if term.closed and not term.since(seq):
                        yield "event: end\ndata: ended\n\n"
                        return
                    if not chunks:
                        yield ": keep-alive\n\n"
            finally:
                term.followers -= 1
                term.detached_at = time.monotonic()
                streams.release()

        bottle.response.content_type = "text/event-stream; charset=utf-8"
        bottle.response.set_header("Cache-Control", "no-store")
        return stream()

    @app.post("/console/input")
    @page
    def console_input() -> Any:
        check()
        f = form()
        term = consoles.get(session().token_hash)
        if "line" in f:  # the form without scripts: one line and Enter
            if term is not None:
                if term.last == 0:
                    term.wait(0, START_WAIT)
                seen = term.last
                term.send(f.get("line", "")[:MAX_INPUT - 1] + "\r")
                term.wait(seen, ANSWER_WAIT)  # the echo, at least, before the page is shown again
            bottle.redirect("/console", 303)
        if term is None:
            bottle.abort(404, "no console is open: open the Console page again")
        keys = f.get("keys", "")
        if len(keys) > MAX_INPUT:
            bottle.abort(400, f"at most {MAX_INPUT} characters at once")
        if term.last == 0:
            term.wait(0, START_WAIT)  # the program sets its terminal mode (dropping typed keys) first
        term.send(keys)
        bottle.response.status = 204
        return ""

    @app.post("/console/close")
    @page
    def console_close() -> Any:
        check()
        consoles.close(session().token_hash)
        if form().get("beacon"):
            bottle.response.status = 204
            return ""
        kit.flash("Console ended.")
        bottle.redirect("/info", 303)
