-- Upgrade (range 0800-0899): named update repositories (seed: rel380 / rel40), each a
-- local directory of signed bundles (*.wpbx).

CREATE TABLE upgrade_repositories (
    name        TEXT PRIMARY KEY,
    location    TEXT NOT NULL
);
