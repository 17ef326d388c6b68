-- SIP: persisted registrations (survive a restart) and brute-force bans.

CREATE TABLE sip_registrations (
    aor           TEXT NOT NULL,           -- the user's extension
    contact       TEXT NOT NULL,           -- the Contact URI as registered
    expires_at    REAL NOT NULL,           -- unix seconds
    call_id       TEXT NOT NULL DEFAULT '',
    cseq          INTEGER NOT NULL DEFAULT 0,
    source        TEXT NOT NULL,           -- transport:host:port the REGISTER came from (rport)
    user_agent    TEXT NOT NULL DEFAULT '',
    q             REAL,
    registered_at REAL NOT NULL,
    PRIMARY KEY (aor, contact)
);

CREATE TABLE sip_bans (
    address   TEXT PRIMARY KEY,
    banned_at REAL NOT NULL,
    until     REAL NOT NULL,
    reason    TEXT NOT NULL DEFAULT '',
    failures  INTEGER NOT NULL DEFAULT 0
);
