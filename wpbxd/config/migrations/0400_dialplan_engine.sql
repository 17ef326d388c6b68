-- Dialplan engine: time ranges, switches, call groups, user call preferences, SMTP profile.

CREATE TABLE time_ranges (
    name        TEXT PRIMARY KEY,
    weekly      TEXT NOT NULL DEFAULT '{}',   -- JSON {"mon": [["08:00","12:00"], ...], ...}: opening hours
    exceptions  TEXT NOT NULL DEFAULT '[]'    -- JSON [{"date": "2026-12-25", "open": [["09:00","12:00"]]}]
);

CREATE TABLE switches (
    name   TEXT PRIMARY KEY,
    states INTEGER NOT NULL DEFAULT 2 CHECK (states IN (2, 3)),
    state  TEXT NOT NULL DEFAULT 'off' CHECK (state IN ('on', 'off', 'extra'))
);

CREATE TABLE call_groups (
    name      TEXT PRIMARY KEY,
    strategy  TEXT NOT NULL DEFAULT 'ringall'
              CHECK (strategy IN ('ringall', 'linear', 'roundrobin', 'random', 'leastrecent')),
    ring_time INTEGER NOT NULL DEFAULT 15,    -- seconds each member rings (hunting strategies)
    timeout   INTEGER NOT NULL DEFAULT 60,    -- seconds before the next application runs
    ring_in_use INTEGER NOT NULL DEFAULT 0    -- ring members already in a call
);

CREATE TABLE call_group_members (
    group_name TEXT NOT NULL REFERENCES call_groups(name) ON DELETE CASCADE ON UPDATE CASCADE,
    extension  TEXT NOT NULL,
    position   INTEGER NOT NULL,
    ring_time  INTEGER,                       -- seconds; NULL: the group's ring_time
    PRIMARY KEY (group_name, extension)
);

CREATE TABLE user_call_prefs (
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    call_class      TEXT NOT NULL CHECK (call_class IN ('internal', 'external')),
    dnd             INTEGER NOT NULL DEFAULT 0,
    fwd_always      TEXT NOT NULL DEFAULT '',  -- number or VOICEMAIL; '' off
    fwd_busy        TEXT NOT NULL DEFAULT '',
    fwd_unavailable TEXT NOT NULL DEFAULT '',
    call_waiting    INTEGER NOT NULL DEFAULT 1,
    call_timeout    INTEGER,                  -- seconds; NULL: the PBX default
    mobility_delay  INTEGER,                  -- seconds before the mobility number rings; NULL off
    missed_email    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, call_class)
);

CREATE TABLE smtp_profile (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    sender   TEXT NOT NULL DEFAULT '',
    server   TEXT NOT NULL DEFAULT '',
    port     INTEGER NOT NULL DEFAULT 25,
    username TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL DEFAULT '',
    helo     TEXT NOT NULL DEFAULT '',
    security TEXT NOT NULL DEFAULT 'none' CHECK (security IN ('none', 'starttls', 'tls'))
);
