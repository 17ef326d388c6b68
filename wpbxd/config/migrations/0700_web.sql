-- Web UI: server-side sessions and API tokens (secrets kept only as SHA-256 hashes).

CREATE TABLE web_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    address     TEXT NOT NULL DEFAULT '',
    flash       TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,             -- unix seconds
    last_seen   REAL NOT NULL              -- unix seconds
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  REAL NOT NULL,
    last_used   REAL
);
