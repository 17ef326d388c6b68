-- USB storage (issue 7): which block devices count as the PBX's storage key.
-- 'usb' (any disk on a USB bus) or 'name:GLOB' (kernel names, e.g. name:sd? or
-- name:loop7 in tests).

CREATE TABLE storage_config (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    device_rule TEXT NOT NULL DEFAULT 'usb'
);
