// Package datadir is the layout of a device's data folder, one for the app
// (kith) and kithctl, so either can run a device the other made: where the
// folder is (--data, else $KITH_DATA, else Default) and what each file in
// it is called.
//
//	DATA/
//	  device.key       the device identity (Ed25519 seed, 0600)
//	  directory.json   the directory this device uses: URL, fingerprint, how it was found
//	  account          the account the device is signed in to ("" or absent: signed out)
//	  library/         the library: index.db (SQLite: titles, holdings, ledger,
//	                   playlists, watched folders, sharing) and content/ (sealed files)
//	  install/         the install page's files (Kith for a neighbour's computer)
//	  household/       the app's embedded household directory, when it runs one
//	  kithctl.sock     kithctl serve's control socket (while it runs)
//	  lock             held by the process using the folder (Lock: a flock, or
//	                   LockFileEx on Windows, and on Linux an
//	                   open-file-description lock InUse reads without taking it)
//
// Open makes the folder, takes its lock and, holding it, migrates the
// layout kithctl used before this package (the library at DATA's root; the
// directory as a "URL#FP" text file named directory) by renaming, never
// copying or deleting data: a folder holding both layouts' libraries is
// refused untouched, and so is one where an old kithctl serve (which takes
// no lock) still answers on its socket.
package datadir
