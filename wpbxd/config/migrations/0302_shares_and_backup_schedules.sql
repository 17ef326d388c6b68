-- Scheduled backups (issue 7; seed: "Sauvegarde périodique (planifiée)"): daily,
-- weekly or monthly, kept in the backups area or sent to an FTP server or a network
-- share, with the number of archives to keep there.

CREATE TABLE storage_shares (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    kind      TEXT NOT NULL CHECK (kind IN ('cifs', 'nfs')),
    server    TEXT NOT NULL,
    path      TEXT NOT NULL,          -- share name (cifs) or exported path (nfs)
    username  TEXT NOT NULL DEFAULT '',
    password  TEXT NOT NULL DEFAULT '',
    options   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE backup_schedules (
    id           INTEGER PRIMARY KEY,
    frequency    TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly', 'monthly')),
    hour         INTEGER NOT NULL DEFAULT 2 CHECK (hour BETWEEN 0 AND 23),
    minute       INTEGER NOT NULL DEFAULT 0 CHECK (minute BETWEEN 0 AND 59),
    weekday      INTEGER NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6),    -- 0 = Monday
    monthday     INTEGER NOT NULL DEFAULT 1 CHECK (monthday BETWEEN 1 AND 28),
    target       TEXT NOT NULL DEFAULT 'local' CHECK (target IN ('local', 'ftp', 'share')),
    ftp_host     TEXT NOT NULL DEFAULT '',
    ftp_port     INTEGER NOT NULL DEFAULT 21,
    ftp_user     TEXT NOT NULL DEFAULT '',
    ftp_password TEXT NOT NULL DEFAULT '',
    ftp_dir      TEXT NOT NULL DEFAULT '',
    share_id     INTEGER REFERENCES storage_shares(id) ON DELETE RESTRICT,
    keep         INTEGER NOT NULL DEFAULT 7 CHECK (keep BETWEEN 1 AND 365),
    enabled      INTEGER NOT NULL DEFAULT 1,
    last_run     REAL,                -- unix seconds
    last_result  TEXT NOT NULL DEFAULT ''
);
