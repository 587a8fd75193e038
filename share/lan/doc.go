// Package lan finds Kith devices and directories on the local network with
// multicast DNS (RFC 6762) and DNS-SD (RFC 6763): hashicorp/mdns answers
// queries, the Browser sends its own and reads each response packet.
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
// A response packet is read only up to 9000 bytes (RFC 6762's limit) and
// with at most 64 records; one query keeps at most 1024 answers.
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
// On Linux every responder socket hears queries from all links, so a
// browser may learn either address of a multi-homed neighbour; it keeps
// every address seen (each expiring on its own) and lists those in the
// subnet of the interface the answer came in on first.
//
// # Why the Browser reads packets itself
//
// hashicorp/mdns's client keeps one entry per name within a query, a later
// packet's A record overwriting the address, and hands each entry over
// once: when two hosts answer for one instance name, whichever answers last
// hides the other. A rogue on the LAN copying the household directory's
// record (same instance name), answering late, hid the directory's real
// address from every search, so a joiner could not pair (pinning held:
// nothing paired with the rogue). The Browser therefore sends its own PTR
// query (from an unbound port, so responders answer by unicast, and also
// listening on the multicast group, as hashicorp's client does) and parses
// every response packet on its own (parseResponse): one answer per instance
// per packet, with all the A/AAAA records of its SRV target in that packet,
// link-local IPv6 ones zoned by the packet's source. The table then merges
// the addresses per instance as before, bounded by maxAddrs and
// MaxNeighbours. A packet missing an instance's SRV or TXT record gives no
// answer for it (no follow-up query: our announcers send all records in
// one packet).
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
// Interval on each interface concurrently (a query listens for the full
// QueryTimeout, so queries are short and parallel) and keeps the neighbours
// seen within Expiry (default 90 s). FindDirectory is a one-shot search that
// returns at the first round finding one (its only callers today are tests:
// the app's welcome screen browses with a Browser for the whole wait,
// app/wire.SearchLAN, to list every directory that answers). Both Serve(ctx)
// methods return nil once ctx is done.
// hashicorp/mdns's (the announcer's) log output is routed into the slog
// logger at debug level.
package lan
