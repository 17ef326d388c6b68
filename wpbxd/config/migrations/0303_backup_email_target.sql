-- Scheduled backups can be mailed (seed: backups to a network share, FTP or email).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt, rows kept.
CREATE TABLE backup_schedules_new (
    id           INTEGER PRIMARY KEY,
    frequency    TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly', 'monthly')),
    hour         INTEGER NOT NULL DEFAULT 2 CHECK (hour BETWEEN 0 AND 23),
    minute       INTEGER NOT NULL DEFAULT 0 CHECK (minute BETWEEN 0 AND 59),
    weekday      INTEGER NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6),    -- 0 = Monday
    monthday     INTEGER NOT NULL DEFAULT 1 CHECK (monthday BETWEEN 1 AND 28),
    target       TEXT NOT NULL DEFAULT 'local' CHECK (target IN ('local', 'ftp', 'share', 'email')),
    ftp_host     TEXT NOT NULL DEFAULT '',
    ftp_port     INTEGER NOT NULL DEFAULT 21,
    ftp_user     TEXT NOT NULL DEFAULT '',
    ftp_password TEXT NOT NULL DEFAULT '',
    ftp_dir      TEXT NOT NULL DEFAULT '',
    share_id     INTEGER REFERENCES storage_shares(id) ON DELETE RESTRICT,
    keep         INTEGER NOT NULL DEFAULT 7 CHECK (keep BETWEEN 1 AND 365),
    enabled      INTEGER NOT NULL DEFAULT 1,
    last_run     REAL,                -- unix seconds
    last_result  TEXT NOT NULL DEFAULT '',
    email_to     TEXT NOT NULL DEFAULT ''
);
INSERT INTO backup_schedules_new (id, frequency, hour, minute, weekday, monthday, target, ftp_host,
    ftp_port, ftp_user, ftp_password, ftp_dir, share_id, keep, enabled, last_run, last_result)
SELECT id, frequency, hour, minute, weekday, monthday, target, ftp_host, ftp_port, ftp_user,
    ftp_password, ftp_dir, share_id, keep, enabled, last_run, last_result FROM backup_schedules;
DROP TABLE backup_schedules;
ALTER TABLE backup_schedules_new RENAME TO backup_schedules;
