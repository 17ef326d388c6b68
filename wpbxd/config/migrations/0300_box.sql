-- The box itself (issue 7): the recovery code printed on its label, generated at
-- first start and kept across factory resets, and the serial boot menu's countdown.

CREATE TABLE box (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    recovery_code  TEXT NOT NULL,
    boot_countdown INTEGER NOT NULL DEFAULT 5 CHECK (boot_countdown BETWEEN 0 AND 300),  -- seconds
    created_at     TEXT NOT NULL DEFAULT (datetime('now'))
);
