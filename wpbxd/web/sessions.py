"""Server-side web sessions, kept in the store (table ``web_sessions``).

The browser holds only a random token; the store keeps its SHA-256 hash, the
user, the CSRF token of the session and a one-shot flash message. A session
ends on logout, when its user is deleted, or after ``idle`` seconds without a
request. Time is passed in. This module knows nothing of HTTP or cookies.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from wpbxd.config.store import Store

TOKEN_BYTES = 32


@dataclass(frozen=True)
class Session:
    token_hash: str
    user_id: int
    csrf: str
    flash: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(store: Store, user_id: int, now: float, address: str = "") -> tuple[str, Session]:
    """A new session for ``user_id``; returns the token for the cookie and the session."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    csrf = secrets.token_urlsafe(TOKEN_BYTES)
    with store.transaction():
        store.execute(
            "INSERT INTO web_sessions(token_hash, user_id, csrf, address, created_at, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_hash(token), user_id, csrf, address, now, now),
        )
    return token, Session(_hash(token), user_id, csrf, "")


def lookup(store: Store, token: str, now: float, idle: float) -> Session | None:
    """The live session of ``token`` (its idle clock restarts), or None."""
    if not token:
        return None
    key = _hash(token)
    row = store.one("SELECT * FROM web_sessions WHERE token_hash = ?", (key,))
    if row is None:
        return None
    if now - row["last_seen"] > idle:
        store.execute("DELETE FROM web_sessions WHERE token_hash = ?", (key,))
        return None
    store.execute("UPDATE web_sessions SET last_seen = ? WHERE token_hash = ?", (now, key))
    return Session(key, row["user_id"], row["csrf"], row["flash"])


def csrf_ok(session: Session, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf.encode(), submitted.encode("utf-8", "replace"))


def set_flash(store: Store, session: Session, message: str) -> None:
    store.execute("UPDATE web_sessions SET flash = ? WHERE token_hash = ?", (message, session.token_hash))


def pop_flash(store: Store, session: Session) -> str:
    if session.flash:
        store.execute("UPDATE web_sessions SET flash = '' WHERE token_hash = ?", (session.token_hash,))
    return session.flash


def destroy(store: Store, session: Session) -> None:
    store.execute("DELETE FROM web_sessions WHERE token_hash = ?", (session.token_hash,))


def destroy_for_user(store: Store, user_id: int, keep: Session | None = None) -> None:
    """End every session of a user (after a password change), except ``keep``."""
    store.execute(
        "DELETE FROM web_sessions WHERE user_id = ? AND token_hash != ?",
        (user_id, keep.token_hash if keep else ""),
    )


def purge(store: Store, now: float, idle: float) -> int:
    cur = store.execute("DELETE FROM web_sessions WHERE last_seen < ?", (now - idle,))
    return cur.rowcount
