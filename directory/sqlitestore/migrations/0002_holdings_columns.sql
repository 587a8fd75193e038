-- 0002: holdings in real columns. Version 1 packed each holding into one
-- separator-joined text (holdings.rec) and address lists into
-- newline-joined text; an announced string holding the separators (an IPv6
-- zone is free text) stopped the directory's next start or forged another
-- account's supplier. Lists are now JSON arrays, each field its own column.
-- The rows are moved by this migration's Go step (migrate.go, moveV1),
-- which drops (and logs) every row that fails today's validation, then
-- drops the *_v1 tables.
DROP INDEX holdings_dev;
ALTER TABLE holdings RENAME TO holdings_v1;
ALTER TABLE announcements RENAME TO announcements_v1;

CREATE TABLE announcements (
	dev           INTEGER PRIMARY KEY REFERENCES devices(seq),
	public_ip     TEXT NOT NULL,
	addrs         TEXT NOT NULL CHECK (json_valid(addrs) AND json_type(addrs) = 'array'),                 -- ["host:port", ...]
	private_addrs TEXT NOT NULL CHECK (json_valid(private_addrs) AND json_type(private_addrs) = 'array'), -- ["IP or CIDR", ...]
	rtts          TEXT NOT NULL CHECK (json_valid(rtts)),  -- {"device ID": ms, ...}
	load          INTEGER NOT NULL,
	expires       INTEGER NOT NULL
);

-- One row per (content, holder). Rewritten with each heartbeat; expires =
-- the announcement's (0 once withdrawn or revoked).
CREATE TABLE holdings (
	content  BLOB NOT NULL CHECK (length(content) = 32),
	dev      INTEGER NOT NULL REFERENCES devices(seq),
	expires  INTEGER NOT NULL,
	complete INTEGER NOT NULL CHECK (complete IN (0, 1)),
	mode     TEXT NOT NULL,                                                                  -- directory.Policy.Mode
	allow    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(allow) AND json_type(allow) = 'array'), -- device IDs or accounts
	deny     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(deny) AND json_type(deny) = 'array'),
	PRIMARY KEY (content, dev)
) WITHOUT ROWID;
CREATE INDEX holdings_dev ON holdings(dev);
