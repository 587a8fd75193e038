-- 0001: the directory's first schema. Times are unix milliseconds (UTC).
CREATE TABLE accounts (
	name          TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	created       INTEGER NOT NULL
);

CREATE TABLE devices (
	seq      INTEGER PRIMARY KEY,          -- compact key for holdings
	id       TEXT NOT NULL UNIQUE,         -- identity.ID
	account  TEXT NOT NULL REFERENCES accounts(name),
	name     TEXT NOT NULL,
	sign_key BLOB NOT NULL,
	box_key  BLOB NOT NULL,
	revoked  INTEGER NOT NULL DEFAULT 0,
	created  INTEGER NOT NULL
);
CREATE INDEX devices_account ON devices(account);

CREATE TABLE titles (
	id         TEXT PRIMARY KEY,
	content    BLOB NOT NULL UNIQUE,       -- sealed.ContentID, 32 bytes
	name       TEXT NOT NULL,
	artist     TEXT NOT NULL,
	media_type TEXT NOT NULL,
	price      INTEGER NOT NULL,
	currency   TEXT NOT NULL,
	reshare    INTEGER NOT NULL,
	expires    INTEGER NOT NULL DEFAULT 0, -- license expiry granted, 0 = never
	size       INTEGER NOT NULL,
	manifest   BLOB NOT NULL,              -- signed sealed.Manifest
	sealed_key BLOB NOT NULL,              -- content key sealed to the directory's box key
	withdrawn  INTEGER NOT NULL DEFAULT 0,
	published  INTEGER NOT NULL
);

CREATE TABLE purchases (
	id         TEXT PRIMARY KEY,
	nonce      BLOB NOT NULL UNIQUE,       -- registration nonce = idempotency key
	title      TEXT NOT NULL REFERENCES titles(id),
	account    TEXT NOT NULL REFERENCES accounts(name),
	device     TEXT NOT NULL,
	amount     INTEGER NOT NULL,
	currency   TEXT NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'declined')),
	card_brand TEXT NOT NULL DEFAULT '',
	card_last4 TEXT NOT NULL DEFAULT '',
	token      TEXT NOT NULL DEFAULT '',
	supplier   TEXT NOT NULL DEFAULT '',   -- relaying device credited
	reason     TEXT NOT NULL DEFAULT '',
	created    INTEGER NOT NULL
);
-- An account pays for a title at most once.
CREATE UNIQUE INDEX purchases_once ON purchases(account, title) WHERE state IN ('pending', 'paid');

CREATE TABLE licenses (
	id       TEXT PRIMARY KEY,
	purchase TEXT NOT NULL REFERENCES purchases(id),
	device   TEXT NOT NULL,
	content  BLOB NOT NULL,
	issued   INTEGER NOT NULL
);
CREATE INDEX licenses_purchase ON licenses(purchase);
-- Never a license without a paid purchase.
CREATE TRIGGER licenses_need_paid BEFORE INSERT ON licenses
WHEN (SELECT state FROM purchases WHERE id = NEW.purchase) IS NOT 'paid'
BEGIN
	SELECT RAISE(ABORT, 'license without a paid purchase');
END;

CREATE TABLE announcements (
	dev           INTEGER PRIMARY KEY REFERENCES devices(seq),
	public_ip     TEXT NOT NULL,
	addrs         TEXT NOT NULL,            -- newline-separated host:port
	private_addrs TEXT NOT NULL,            -- newline-separated
	rtts          TEXT NOT NULL,            -- JSON object device ID -> ms
	load          INTEGER NOT NULL,
	expires       INTEGER NOT NULL
);

-- One row per (content, holder), carrying everything a supplier lookup
-- answers, so a lookup is one range scan of the primary key with no join.
-- Rewritten with each heartbeat; expires = the announcement's (0 once
-- withdrawn or revoked).
CREATE TABLE holdings (
	content  BLOB NOT NULL,
	dev      INTEGER NOT NULL REFERENCES devices(seq),
	expires  INTEGER NOT NULL,
	rec      TEXT NOT NULL,  -- complete(0|1) US id US account US public_ip US load US addrs(RS) US
	                         -- private_addrs(RS) US mode US allow(RS) US deny(RS)   (US = 0x1f, RS = 0x1e)
	PRIMARY KEY (content, dev)
) WITHOUT ROWID;
CREATE INDEX holdings_dev ON holdings(dev);

CREATE TABLE outbox (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	kind         TEXT NOT NULL,
	payload      BLOB NOT NULL,             -- JSON directory.BillingEvent
	created      INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	delivered    INTEGER NOT NULL DEFAULT 0, -- 0 = not yet
	last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox(next_attempt) WHERE delivered = 0;
