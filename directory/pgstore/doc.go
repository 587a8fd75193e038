// Package pgstore is the directory's Store on PostgreSQL (jackc/pgx/v5),
// for deployments that outgrow one process on one SQLite file: several
// kith-directory instances can share one database.
//
// # Schema
//
// The same tables, columns and indexes as sqlitestore (its doc lists
// them), written for PostgreSQL in migrations/NNNN_name.sql: BYTEA for
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
package pgstore
