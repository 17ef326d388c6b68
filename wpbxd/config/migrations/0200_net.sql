-- Networking: desired network state, DHCP server leases, known devices (MACs).

CREATE TABLE net_state (
    name       TEXT PRIMARY KEY CHECK (name IN ('desired', 'confirmed')),
    body       TEXT NOT NULL,                 -- JSON document (wpbxd/net/model.py)
    updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- Devices known to the PBX by MAC ("refuse unknown clients" serves only these).
CREATE TABLE devices (
    mac        TEXT PRIMARY KEY,              -- lower case, colon separated
    name       TEXT NOT NULL DEFAULT '',
    model      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE dhcp_leases (
    ip           TEXT PRIMARY KEY,
    mac          TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('bound', 'released', 'declined', 'conflict')),
    expires      REAL NOT NULL,               -- unix seconds
    hostname     TEXT NOT NULL DEFAULT '',
    vendor_class TEXT NOT NULL DEFAULT '',
    client_id    TEXT NOT NULL DEFAULT '',
    interface    TEXT NOT NULL DEFAULT '',
    updated_at   REAL NOT NULL
);
CREATE INDEX dhcp_leases_mac ON dhcp_leases(mac);
