// Package sqlitestore is the directory's Store on SQLite (mattn/go-sqlite3;
// build with -tags libsqlite3 to link the system library). The rows it
// reads are decoded by directory/internal/rowscan, as pgstore's are.
//
// # Connections
//
// One writer connection (database/sql pool of size 1, every transaction
// BEGIN IMMEDIATE via _txlock=immediate, so writers queue instead of
// failing on lock upgrades) and a pool of query-only readers. WAL journal,
// synchronous=FULL (every commit is fsynced: purchases, licenses and the
// billing outbox survive a power cut once acknowledged) but for commits of
// announcements and withdrawals only, which run with synchronous=NORMAL
// (acknowledged without waiting for the disk: soft state their devices
// repeat at each heartbeat; see txSoft), foreign keys on,
// busy timeout 10 s so `kith-directory publish` can write while the server
// runs.
//
// # Group commit
//
// Every write goes through one writer goroutine (writer.go): it takes the
// requests queued while its last commit ran, runs them in one
// transaction, commits once and only then answers each (a request is
// acknowledged only once durable). When one fails, the batch is rolled
// back and runs again with each request in a SAVEPOINT of its own, so the
// failed one rolls back alone (the savepoints cost two statements a
// request, so they are paid only when needed). When its
// last commit held several requests it lingers up to 500 µs for more (up
// to 16): a commit costs ~125 µs of CPU of its own. WriteStats (and the
// directory's kith_directory_store_commits_total / _writes_total) tell
// the mean batch.
//
// # Schema
//
// Embedded numbered migrations (migrations/NNNN_name.sql, applied in order,
// each in one transaction, recorded in schema_migrations):
//
//	accounts(name PK, password_hash argon2id PHC, created)
//	devices(seq INTEGER PK, id UNIQUE, account → accounts, name, sign_key, box_key, revoked, created)
//	titles(id PK, content UNIQUE (32 bytes), name, artist, media_type, price, currency,
//	       reshare, expires, size, manifest (signed), sealed_key, withdrawn, published,
//	       album, album_artist, genre, track, disc, year, duration_ms,             -- 0003
//	       owner, publisher, visibility public|household,                        -- 0003
//	       width, height)                                                        -- 0010
//	  index on owner WHERE visibility = 'household'
//	artwork(title PK → titles, jpeg ≤ 256 KiB)                                   -- 0003
//	directory_identity(singleton 1, id, bound)   -- the key this database belongs to (0004)
//	purchases(id PK, nonce UNIQUE (idempotency key), title → titles, account → accounts,
//	          device, amount, currency, state pending|paid|declined, card_brand, card_last4,
//	          token, supplier, reason, created)
//	  UNIQUE (account, title) WHERE state IN ('pending','paid')   -- pay once per account
//	licenses(id PK, purchase → purchases, device, content, issued, license (as issued))
//	  index (purchase, device); trigger: refuses a license whose purchase is not 'paid'
//	test_charges(idem_key PK, token, brand, last4, amount, created)   -- the test processor's
//	announcements(dev PK → devices.seq, public_ip, addrs JSON array, private_addrs JSON array,
//	              rtts JSON object, load, expires, holdings_digest (0005))
//	holdings(content (32 bytes), dev → devices.seq, expires, complete 0|1, mode,
//	         allow JSON array, deny JSON array)
//	  PK (content, dev) WITHOUT ROWID; index on dev. Rewritten on each
//	  heartbeat, expires set to 0 on withdraw and revoke. The server reads
//	  them all once at start (OnlineHoldings: the announced devices once,
//	  then the holdings primary key walked in chunks of 4096, each chunk's
//	  text fields hex-encoded and concatenated inside SQLite so it crosses
//	  cgo once and no stored byte can pose as a separator) and answers
//	  lookups from memory; SupplierCandidates remains for tools. A row that
//	  does not decode is skipped and logged, never fatal.
//	outbox(id AUTOINCREMENT, kind, payload JSON, created, attempts, next_attempt, delivered, last_error,
//	       lease_until (0005: the claiming instance's lease))
//	  partial index on next_attempt WHERE delivered = 0
//
// Migration 0002 moved version 1's separator-joined holdings.rec and
// newline-joined address lists into these columns (its Go step, moveV1,
// drops and logs every row that fails today's announcement validation:
// a hostile announcement had stored zones full of separators there).
// Migrations may have a Go step (goSteps) run after their SQL in the same
// transaction. 0006 is empty here: its tables (pgstore's doc) serve only
// instances sharing a PostgreSQL database.
//
// Times are unix milliseconds; lists are JSON arrays.
package sqlitestore
