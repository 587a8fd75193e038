// Package sqlitestore is the directory's Store on SQLite (mattn/go-sqlite3;
// build with -tags libsqlite3 to link the system library).
//
// # Connections
//
// One writer connection (database/sql pool of size 1, every transaction
// BEGIN IMMEDIATE via _txlock=immediate, so writers queue instead of
// failing on lock upgrades) and a pool of query-only readers. WAL journal,
// synchronous=FULL (every commit is fsynced: purchases, licenses and the
// billing outbox survive a power cut once acknowledged), foreign keys on,
// busy timeout 10 s so `kith-directory publish` can write while the server
// runs.
//
// # Schema
//
// Embedded numbered migrations (migrations/NNNN_name.sql, applied in order,
// each in one transaction, recorded in schema_migrations):
//
//	accounts(name PK, password_hash argon2id PHC, created)
//	devices(seq INTEGER PK, id UNIQUE, account → accounts, name, sign_key, box_key, revoked, created)
//	titles(id PK, content UNIQUE (32 bytes), name, artist, media_type, price, currency,
//	       reshare, expires, size, manifest (signed), sealed_key, withdrawn, published)
//	purchases(id PK, nonce UNIQUE (idempotency key), title → titles, account → accounts,
//	          device, amount, currency, state pending|paid|declined, card_brand, card_last4,
//	          token, supplier, reason, created)
//	  UNIQUE (account, title) WHERE state IN ('pending','paid')   -- pay once per account
//	licenses(id PK, purchase → purchases, device, content, issued)
//	  trigger: refuses a license whose purchase is not 'paid'
//	announcements(dev PK → devices.seq, public_ip, addrs, private_addrs, rtts JSON, load, expires)
//	holdings(content, dev → devices.seq, expires, rec)
//	  PK (content, dev) WITHOUT ROWID; index on dev. rec packs everything a
//	  supplier lookup answers (complete, device ID, account, public IP, load,
//	  addrs, private addrs, policy) so a lookup is one primary-key range scan
//	  reading one column per row; rewritten on each heartbeat, expires set to
//	  0 on withdraw and revoke. The server reads them all once at start
//	  (OnlineHoldings: the primary key walked in chunks of 4096, each chunk
//	  formatted and concatenated inside SQLite so it crosses cgo once) and
//	  answers lookups from memory; SupplierCandidates remains for tools.
//	outbox(id AUTOINCREMENT, kind, payload JSON, created, attempts, next_attempt, delivered, last_error)
//	  partial index on next_attempt WHERE delivered = 0
//
// Times are unix milliseconds; lists are newline-separated text.
package sqlitestore
