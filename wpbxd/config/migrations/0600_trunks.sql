-- Trunks: SIP trunks, trunk groups ("Faisceau"), price lists, CDR backends and their delivery cursors.

CREATE TABLE price_lists (
    name        TEXT PRIMARY KEY,
    imported_at REAL NOT NULL,
    rows        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE price_list_rates (
    list_name      TEXT NOT NULL REFERENCES price_lists(name) ON DELETE CASCADE ON UPDATE CASCADE,
    line           INTEGER NOT NULL,          -- line of the imported file (header is line 1)
    dialprefix     TEXT NOT NULL,
    destination    TEXT NOT NULL DEFAULT '',
    rate           REAL NOT NULL,             -- per minute
    min_duration   INTEGER NOT NULL,          -- seconds not billed
    billing_block  INTEGER NOT NULL,          -- seconds, billed durations round up to it
    connect_charge REAL NOT NULL,
    start_day      INTEGER NOT NULL,          -- 1 = Monday .. 7 = Sunday
    stop_day       INTEGER NOT NULL,
    start_time     INTEGER NOT NULL,          -- seconds from midnight
    stop_time      INTEGER NOT NULL,
    PRIMARY KEY (list_name, line)
);

CREATE TABLE trunks (
    name             TEXT PRIMARY KEY,
    title            TEXT NOT NULL DEFAULT '',
    login            TEXT NOT NULL,             -- authentication login
    from_user        TEXT NOT NULL DEFAULT '',
    domain           TEXT NOT NULL DEFAULT '',  -- provider domain (From/To/Request-URI host)
    host             TEXT NOT NULL,             -- host[:port] or 'dynamic'
    password         TEXT NOT NULL DEFAULT '',
    procedure        TEXT NOT NULL DEFAULT 'main',
    country_code     TEXT NOT NULL DEFAULT '',
    keepalive        INTEGER NOT NULL DEFAULT 0,  -- seconds between OPTIONS, 0 off
    register         INTEGER NOT NULL DEFAULT 0,
    register_expires INTEGER NOT NULL DEFAULT 300,
    called_from      TEXT NOT NULL DEFAULT 'ruri' CHECK (called_from IN ('ruri', 'to')),
    max_calls        INTEGER NOT NULL DEFAULT 0,  -- 0 unlimited
    price_list       TEXT REFERENCES price_lists(name) ON DELETE SET NULL ON UPDATE CASCADE,
    created_at       TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE trunk_groups (
    name TEXT PRIMARY KEY
);

CREATE TABLE trunk_group_members (
    group_name TEXT NOT NULL REFERENCES trunk_groups(name) ON DELETE CASCADE ON UPDATE CASCADE,
    position   INTEGER NOT NULL,
    trunk      TEXT NOT NULL REFERENCES trunks(name) ON DELETE CASCADE ON UPDATE CASCADE,
    strip      INTEGER NOT NULL DEFAULT 0,      -- leading digits removed
    prepend    TEXT NOT NULL DEFAULT '',        -- digits added in front
    max_calls  INTEGER NOT NULL DEFAULT 0,      -- 0: the trunk's own limit
    delay      REAL NOT NULL DEFAULT 0,         -- seconds before the next member is tried
    PRIMARY KEY (group_name, position)
);

CREATE TABLE cdr_backends (
    name      TEXT PRIMARY KEY CHECK (name IN ('sqlite', 'csv', 'mysql')),
    enabled   INTEGER NOT NULL DEFAULT 0,
    options   TEXT NOT NULL DEFAULT '{}',       -- JSON: path / host, port, database, table, user, password
    delivered INTEGER NOT NULL DEFAULT 0,       -- highest cdr.id delivered (the local queue is cdr.id > delivered)
    stats     INTEGER NOT NULL DEFAULT 0        -- the one backend statistics are read from
);
INSERT INTO cdr_backends(name, enabled, stats) VALUES ('sqlite', 1, 1), ('csv', 0, 0), ('mysql', 0, 0);

ALTER TABLE cdr ADD COLUMN trunk TEXT NOT NULL DEFAULT '';
