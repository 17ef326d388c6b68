-- Core schema: key/value settings, users, ACL groups, dialplan procedures, CDR.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL            -- JSON
);

CREATE TABLE acl_groups (
    name            TEXT PRIMARY KEY,
    allowed_classes TEXT NOT NULL DEFAULT '[]'   -- JSON list of call classes
);

CREATE TABLE procedures (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE procedure_includes (
    procedure TEXT NOT NULL REFERENCES procedures(name) ON DELETE CASCADE ON UPDATE CASCADE,
    included  TEXT NOT NULL REFERENCES procedures(name) ON DELETE RESTRICT ON UPDATE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (procedure, included)
);

CREATE TABLE dialplan_entries (
    id        INTEGER PRIMARY KEY,
    procedure TEXT NOT NULL REFERENCES procedures(name) ON DELETE CASCADE ON UPDATE CASCADE,
    position  INTEGER NOT NULL,
    pattern   TEXT NOT NULL,
    UNIQUE (procedure, pattern)
);

CREATE TABLE dialplan_apps (
    id       INTEGER PRIMARY KEY,
    entry_id INTEGER NOT NULL REFERENCES dialplan_entries(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    app      TEXT NOT NULL,
    params   TEXT NOT NULL DEFAULT '{}'          -- JSON object
);

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    type                TEXT NOT NULL DEFAULT 'user'
                        CHECK (type IN ('admin', 'user', 'fax', 'parkorbit', 'room')),
    name                TEXT NOT NULL,
    login               TEXT UNIQUE,
    extension           TEXT UNIQUE,
    fax_did             TEXT,
    office_did          TEXT,
    email               TEXT UNIQUE,
    mobility            TEXT,
    dialplan            TEXT NOT NULL DEFAULT 'users'
                        REFERENCES procedures(name) ON UPDATE CASCADE,
    fax_dialplan        TEXT NOT NULL DEFAULT 'users'
                        REFERENCES procedures(name) ON UPDATE CASCADE,
    language            TEXT NOT NULL DEFAULT 'en',
    acl_group           TEXT NOT NULL DEFAULT 'default'
                        REFERENCES acl_groups(name) ON UPDATE CASCADE,
    department          TEXT NOT NULL DEFAULT '',
    sip_password        TEXT NOT NULL DEFAULT '',
    web_password_hash   TEXT NOT NULL DEFAULT '',
    keypad_hash         TEXT NOT NULL DEFAULT '',
    must_change_password INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE cdr (
    id              INTEGER PRIMARY KEY,
    start_time      REAL NOT NULL,         -- unix seconds
    answer_time     REAL,
    end_time        REAL NOT NULL,
    duration        INTEGER NOT NULL,      -- seconds, start to end
    billsec         INTEGER NOT NULL,      -- seconds, answer to end
    caller_number   TEXT NOT NULL,
    caller_name     TEXT NOT NULL DEFAULT '',
    callee_number   TEXT NOT NULL,
    callee_name     TEXT NOT NULL DEFAULT '',
    disposition     TEXT NOT NULL CHECK (disposition IN ('ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED')),
    hangup_cause    TEXT NOT NULL DEFAULT '',
    hangup_side     TEXT NOT NULL DEFAULT '',   -- caller | callee | pbx
    codec           TEXT NOT NULL DEFAULT '',
    caller_call_id  TEXT NOT NULL DEFAULT '',
    callee_call_id  TEXT NOT NULL DEFAULT '',
    cost            REAL
);
CREATE INDEX cdr_start ON cdr(start_time);
