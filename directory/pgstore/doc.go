// Package pgstore is the directory's Store on PostgreSQL (jackc/pgx/v5),
// for deployments that outgrow one process on one SQLite file: several
// kith-directory instances can share one database. Its SQL is its own;
// the rows it reads are decoded by directory/internal/rowscan, as
// sqlitestore's are.
//
// # Schema
//
// The same tables, columns and indexes as sqlitestore (its doc lists
// them), plus the two only instances sharing a database need (migration
// 6, empty in SQLite: device_changes and seen_requests, below), written for PostgreSQL in migrations/NNNN_name.sql: BYTEA for
// BLOB, BOOLEAN where SQLite keeps 0/1, JSONB for the JSON list columns,
// identity columns for devices.seq and outbox.id, a PL/pgSQL trigger
// refusing a license whose purchase is not paid. PostgreSQL's first
// migration is version 3 (SQLite's 1-3 together), so later migrations
// share numbers across the dialects; TestSchemaParity compares the two
// schemas. Migrations run in one transaction each and record their
// version first, so instances starting together apply each once.
//
// # Transactions
//
// Every write is one transaction through Store.tx, the one place that
// retries: a serialization failure (SQLSTATE 40001) or deadlock (40P01)
// runs the transaction again from the start, up to Options.MaxRetries
// times. The rules hold at READ COMMITTED (the default) and at
// SERIALIZABLE (Options.Serializable): unique indexes, ON CONFLICT and
// row locks decide, never a value read and written back. Nothing rests
// on LISTEN/NOTIFY or advisory locks, so engines that speak PostgreSQL's
// protocol without them can follow.
//
// # Shared between instances (directory.SharedStore)
//
// Every announce, withdraw, revoke and leave adds a device_changes row in
// its own transaction; each instance polls DeviceChanges from its cursor
// (looking 3 s before it, as rows commit out of order, and handing each row
// out once) and re-reads those devices into its in-memory online index.
// SeenRequest records the hash of every signed request that changes
// something until its time window closes, so a request replayed to
// another instance is refused too. PruneShared deletes change rows older
// than 10 minutes and expired replay rows. Billing events are claimed with
// a lease (ClaimEvents: FOR UPDATE SKIP LOCKED), so one instance at a time
// posts each.
package pgstore
