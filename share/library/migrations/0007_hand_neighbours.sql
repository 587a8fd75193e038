-- 0007: neighbours added by hand (an address typed in where the LAN drops
-- multicast, so mDNS finds nothing): the address as typed and the device
-- that proved itself there when it was added (only that device is dialed
-- at the address afterwards).
CREATE TABLE hand_neighbours (
    addr      TEXT PRIMARY KEY CHECK (length(addr) BETWEEN 1 AND 262),
    device_id TEXT NOT NULL CHECK (length(device_id) BETWEEN 1 AND 96),
    name      TEXT NOT NULL CHECK (length(name) <= 256),
    added_at  INTEGER NOT NULL
) WITHOUT ROWID;
