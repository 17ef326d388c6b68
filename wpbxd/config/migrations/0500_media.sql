-- Media (issue 4): phones assigned to users by feature code 99, shared voicemail
-- subscriptions (user preference "Boîte vocale partagée"), one-time setup steps
-- (the feature codes are written into pbxinternal once, then belong to the admin).

CREATE TABLE phone_logins (
    device       TEXT PRIMARY KEY,          -- the phone's SIP identity (its auth name) or address
    extension    TEXT NOT NULL,             -- the user it now belongs to
    logged_in_at REAL NOT NULL              -- unix seconds
);

CREATE TABLE voicemail_subscriptions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mailbox TEXT NOT NULL,                  -- the extension whose messages this user also gets
    PRIMARY KEY (user_id, mailbox)
);

CREATE TABLE media_setup (
    step    TEXT PRIMARY KEY,
    done_at TEXT NOT NULL DEFAULT (datetime('now'))
);
