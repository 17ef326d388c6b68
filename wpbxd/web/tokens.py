"""API tokens (table ``api_tokens``): bearer secrets that act as one admin user.

The token is shown once at creation; the store keeps only its SHA-256 hash.
A token dies with its user. This module knows nothing of HTTP.
"""

import hashlib
import secrets
from dataclasses import dataclass

from wpbxd.config.store import Store
from wpbxd.errors import NotFound, ValidationError

TOKEN_BYTES = 32
TOKEN_PREFIX = "wpbx_"
MAX_NAME = 64


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    user_id: int
    created_at: float
    last_used: float | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(store: Store, user_id: int, name: str, now: float) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("is required", "name")
    if len(name) > MAX_NAME:
        raise ValidationError(f"is longer than {MAX_NAME} characters", "name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with store.transaction():
        store.execute(
            "INSERT INTO api_tokens(name, token_hash, user_id, created_at) VALUES (?, ?, ?, ?)",
            (name, _hash(token), user_id, now),
        )
    return token


def authenticate(store: Store, token: str, now: float) -> int | None:
    """The user id a bearer token acts as, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = store.one("SELECT id, user_id FROM api_tokens WHERE token_hash = ?", (_hash(token),))
    if row is None:
        return None
    store.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (now, row["id"]))
    return int(row["user_id"])


def list_tokens(store: Store, user_id: int | None = None) -> list[ApiToken]:
    sql = "SELECT id, name, user_id, created_at, last_used FROM api_tokens"
    rows = store.all(sql + " WHERE user_id = ? ORDER BY id", (user_id,)) if user_id is not None \
        else store.all(sql + " ORDER BY id")
    return [ApiToken(**dict(r)) for r in rows]


def revoke(store: Store, token_id: int, user_id: int | None = None) -> None:
    """Delete a token (only one of ``user_id``'s when given)."""
    row = store.one("SELECT user_id FROM api_tokens WHERE id = ?", (token_id,))
    if row is None or (user_id is not None and row["user_id"] != user_id):
        raise NotFound(f"no API token {token_id}")
    with store.transaction():
        store.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,))
