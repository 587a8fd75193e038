// Package wire connects Kith's real parts to the GUI: it adapts a
// share.Node, a player and a directory client to the small interfaces
// package app declares (Session, Pairing, Catalog, Library, Neighbours,
// Sharing, Player), and starts the embedded household directory a first
// run falls back to. It imports no Fyne, so it is tested without a display.
//
// # Choosing the directory
//
// In order: --directory URL#FINGERPRINT (https only, the fingerprint
// required); the directory saved in directory.json (one found on the LAN
// is used only if "paired" is set); else, when directories answer on the
// LAN, none: the device starts unpaired — the session, catalog and node
// have no directory client, so sign-up, sign-in and purchases send
// nothing and fail with ErrNotPaired — until the user pairs from the
// welcome screen (Pairing.Pair: the join-code protocol of package
// directory/pairing, tried on each announced address; an address whose
// TLS key is not the listed fingerprint is skipped before anything
// derived from the code is sent); else the embedded household directory,
// which shows join codes for the next devices (Pairing.JoinCode).
// Settings saves another directory or forgets the saved one
// (Pairing.SaveDirectory) for the next start.
//
// # One node
//
// Start builds the share.Node once, paired or not, signed in or not:
// pairing hands it the directory (Node.SetDirectory), sign-in and
// sign-out change its account as it runs (Session.SignIn, Session.SignOut,
// which leaves the account at the directory so another can sign in).
//
// # Data folder
//
// The layout is package internal/datadir's, shared with kithctl: a folder
// one of them made runs the same device and library in the other. Start
// opens it (migrating kithctl's old layout) and holds its lock until
// Close, so the app and kithctl serve never run one device at once. Here:
//
//	device.key        this device's identity (share/identity, mode 0600)
//	directory.json    the directory this device uses, written atomically:
//	                  {"url", "fingerprint", "name", "embedded", "found_on_lan", "paired"}
//	account           the account this device is enrolled under (one line)
//	library/          the share.Node library (sealed files + SQLite index)
//	install/          the install page's files (Kith for a neighbour)
//	household/        the embedded directory, when this device runs it:
//	                  directory.key, directory.db, origin/, demo-published
package wire
