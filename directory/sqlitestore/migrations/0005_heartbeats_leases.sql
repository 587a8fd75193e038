-- 0005 (issue 12): heartbeats rewrite holdings only when they changed. An
-- announcement keeps the SHA-256 of its holdings set (directory.HoldingsDigest);
-- a heartbeat with the same digest updates the announcement row alone. So
-- holdings.expires no longer follows each heartbeat: it is 0 once withdrawn
-- or revoked and positive otherwise, and whether a holding is online is
-- its announcement's expires.
ALTER TABLE announcements ADD COLUMN holdings_digest BLOB NOT NULL DEFAULT x'';

-- Outbox leases: an instance claims due events for lease_until (unix ms)
-- before posting them, so instances sharing a database do not post the
-- same event at once; an instance that dies leaves its leases to expire.
ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
