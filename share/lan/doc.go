// Package lan finds Kith devices and directories on the local network with
// multicast DNS (RFC 6762) and DNS-SD (RFC 6763), using hashicorp/mdns.
//
// # Services
//
// Two DNS-SD service types are used, both in the "local." domain:
//
//	_kith._tcp       a device; its SRV port is the device's peer port
//	_kith-dir._tcp   a directory server; its SRV port serves the directory API
//
// The instance name is one DNS label of letters, digits, '-' and '_' (at most
// 63 bytes), by default "kith-<first ID characters>" or "kithdir-<…>". Each
// announcer uses "<instance>.local." as its SRV target host name, so several
// announcers sharing one machine name (containers, namespaces) do not mix
// up their A records.
//
// # TXT records
//
// Each TXT string is "key=value"; keys are case-insensitive, unknown keys are
// ignored, a key other than url= appearing twice makes the record invalid.
//
//	device (_kith._tcp):
//	  v=<protocol version>     required, 1..65535 (currently 1)
//	  id=<device ID>           required
//	  dir=<fingerprint>        the directory the device belongs to, optional
//	  name=<display name>      optional, printable UTF-8, at most 64 bytes
//	directory (_kith-dir._tcp):
//	  v=<protocol version>     required
//	  fp=<fingerprint>         required, the directory's own ID
//	  url=<hint>               optional, repeatable (first 4 kept): a path
//	                           ("/kith") appended to the announced address, or
//	                           an http(s) URL, printable ASCII, at most 200 bytes
//	  name=<display name>      optional
//
// Device IDs and fingerprints are 1..96 bytes of ASCII letters, digits and
// '-'. At most 16 TXT strings are accepted.
//
// # Hostile input
//
// Everything received is checked (ParseTXT, instance name, port, addresses);
// a bad answer is dropped with a debug log line and never reaches the list.
// Loopback addresses are accepted only from answers received on a loopback
// interface; the list holds at most MaxNeighbours entries.
//
// Announcements are unauthenticated claims: a device ID or fingerprint seen
// here is only a hint of whom to dial, checked by mutual TLS on connecting.
//
// # Several interfaces, IPv4 and IPv6
//
// An Announcer runs one hashicorp/mdns responder per interface, each
// answering with the addresses of its own interface (unless IPs are given).
// hashicorp/mdns's client keeps only the last A (and AAAA) record of an
// answer, and on Linux every responder socket hears queries from all links,
// so a browser may learn either address of a multi-homed neighbour; it keeps
// every address seen (each expiring on its own) and lists those in the
// subnet of the interface the answer came in on first.
//
// A Browser sends separate IPv4 and IPv6 queries on each interface: the
// library abandons a whole query when one family cannot send (no IPv6, or a
// link-local address still tentative). IPv4Only skips IPv6 entirely.
// Addresses are read when Serve starts; restart the Announcer when they
// change. The responder only answers queries (no unsolicited
// announcements), so a neighbour appears at the browser's next round.
//
// # Use
//
// An Announcer answers queries for one Service; a Browser queries every
// Interval on each interface concurrently (hashicorp/mdns waits the full
// QueryTimeout, so queries are short and parallel) and keeps the neighbours
// seen within Expiry (default 90 s). FindDirectory is a one-shot search that
// returns at the first round finding one (its only callers today are tests:
// the app's welcome screen browses with a Browser for the whole wait,
// app/wire.SearchLAN, to list every directory that answers). Both Serve(ctx)
// methods return nil once ctx is done.
// hashicorp/mdns's log output is routed into the slog logger at debug level.
package lan
