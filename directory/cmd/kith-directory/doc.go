// Command kith-directory runs a Kith directory: the headless authority of a
// Kith network (accounts, catalog, purchases, licenses, suppliers), and the
// media source's tools to publish titles and export billing. It links no GUI,
// audio or video library (packaging's TestDirectoryLinksNoGUI checks with
// ldd): only the directory packages (directory/relay too, for serve --relay),
// share/sealed, share/identity, share/tags (publish reads tags in Go) and
// internal helpers.
//
// Subcommands (see `kith-directory --help` for flags and examples):
//
//	serve      HTTPS API of package directory; prints https://host:port#FINGERPRINT;
//	           with --relay also a relay (package directory/relay) for suppliers behind NAT
//	migrate    create or upgrade the schema; with a PostgreSQL --store, create the key once
//	publish    seal FILE into DATA/origin/<content ID>, sign its manifest, add the title
//	withdraw   stop listing and selling a title
//	billing    "billing export --csv": the billing outbox as CSV
//	accounts   accounts with device and purchase counts
//	pair-code  a one-time join code for a device pairing with this directory
//	           (package directory/pairing); serve reads DATA/join-code.json
//	fingerprint  the directory's fingerprint, for URL#FINGERPRINT
//
// Data directory (--data, env KITH_DIRECTORY_DATA):
//
//	directory.key   the directory identity (ed25519 + X25519), mode 0600, created on first use
//	                (with a PostgreSQL --store only by migrate: every instance gets a copy)
//	directory.db    SQLite database (see package sqlitestore), WAL; unless --store names
//	                a PostgreSQL database (package pgstore), whose directory_identity row
//	                must name this key
//	origin/         sealed files named by content ID (the origin store)
//	join-code.json  the join code pair-code left for serve (mode 0600; deleted once used)
//	lock            held by serve on the SQLite store (internal/datadir): a second serve
//	                on the folder is refused; instances sharing a PostgreSQL --store take none
//
// serve shuts down gracefully on SIGINT/SIGTERM (signal.NotifyContext and
// one errgroup): in-flight requests get 10 s, then the database is closed.
// Setting KITH_DIRECTORY_CPUPROFILE=FILE writes a CPU profile of the run,
// KITH_DIRECTORY_MEMPROFILE=FILE its allocations at the end.
package main
