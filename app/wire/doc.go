// Package wire connects Kith's real parts to the GUI: it adapts a
// share.Node, a player and a directory client to the small interfaces
// package app declares (Session, Catalog, Library, Neighbours, Sharing,
// Player), and starts the embedded household directory a first run falls
// back to. It imports no Fyne, so it is tested without a display.
//
// # Data folder
//
//	device.key        this device's identity (share/identity, mode 0600)
//	directory.json    the directory this device joined: {"url", "fingerprint", "name", "embedded"}
//	account           the account this device is enrolled under (one line)
//	library/          the share.Node library (sealed files + SQLite index)
//	household/        the embedded directory, when this device runs it:
//	                  directory.key, directory.db, origin/, demo-published
package wire
