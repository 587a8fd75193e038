// Package relay lets a supplier behind a NAT router serve: kith-relay (or
// kith-directory serve --relay) splices an asker's TCP stream to a
// supplier's, and the two run their own end-to-end mutual TLS over it
// (share/peer's, unchanged), so the relay sees only ciphertext. It works
// in the manner of Syncthing's relays, with a directory-signed ticket in
// place of a session request.
//
// # Connections
//
// One TCP port. A connection starting with a TLS handshake (0x16) is a
// supplier's control connection: mutual TLS 1.3 with device certificates
// (the supplier pins the relay's device ID; the relay reads the
// supplier's from its certificate). Any other connection must start with
// the 4 bytes "KRL1" and one message: Connect (an asker) or Join (a
// supplier answering an invitation). Both are answered by one Result; on
// CodeOK the rest of both connections is the spliced stream.
//
// # Messages
//
//	type (1 byte) | length (2 bytes, big-endian, at most 1024) | body
//
//	1 Connect  asker → relay        a ticket (below)
//	2 Join     supplier → relay     the 32-byte session key of an invitation
//	3 Result   relay → either       code (1 byte) | reason (UTF-8, at most 200 bytes)
//	4 Invite   relay → supplier     key (32) | len | asker device ID | len | asker's address
//	5 Ping, 6 Pong                  empty; the relay pings every PingInterval, the
//	                                supplier answers; three silent intervals end the connection
//	7 ConnectPunch asker → relay    a ticket: coordinate a direct connection (hole punch)
//	8 InvitePunch relay → supplier  as Invite, for a punch (the supplier joins with Join)
//	9 Punch    relay → both         delay ms (2 bytes BE, at most 10,000) | len | the other side's
//	                                IP:port as the relay saw it; then the relay closes both
//
// Codes: 0 ok, 1 bad ticket, 2 expired, 3 supplier not connected, 4 busy
// (a cap), 5 the supplier did not join in time, 6 bad request, 7 unknown
// session key. Unknown types, longer bodies and malformed fields close
// the connection.
//
// # Tickets
//
// The directory issues a ticket to an asker allowed to look up the
// supplier (POST /v1/relay/ticket); the relay checks it with no database:
//
//	version 1 | len | asker ID | len | supplier ID | expiry (unix ms, 8 bytes BE) |
//	directory's ed25519 public key (32) | signature (64)
//
// signed with ed25519 over "kith relay ticket v1\x00" and everything
// before the signature. The relay accepts it when the key hashes to the
// directory fingerprint it was started with, the signature verifies, and
// the expiry is in the future but not more than MaxTicketTTL ahead. The
// ticket is not bound to the asker's TCP connection: whoever holds it
// reaches the supplier's TLS, where the supplier's ordinary enrolment and
// copy-restriction checks apply to the certificate really presented.
//
// # Hole punching
//
// For a punch, each side dials the address it was given from the local
// port of its relay data connection (bound before connecting, SO_REUSEPORT,
// kept open meanwhile), after the delay, for up to 3 s. Behind NATs that
// keep a local port's public port for every destination the crossing SYNs
// open one direct TCP connection, the asker its TLS client; the relay
// carries none of its bytes (counted in punches, not bytes). Behind a
// symmetric NAT the addresses are wrong and the punch fails. A Node
// (package share) opens a spliced session first and punches alongside,
// moving its requests to the punched connection when one opens. A
// supplier answers at most 32 invitations at once.
//
// # Caps
//
// Control connections in total; connections per IPv4 address or IPv6
// /64; sessions in total and per device (as asker and as supplier); bytes
// per second per supplier and in total; bytes per supplier per window. A
// session over its supplier's byte budget is cut. Counters are served as
// Prometheus text by Handler (/metrics, /healthz) on an admin listener.
//
// # Splicing
//
// On Linux the kernel moves a session's bytes (splice(2) from one socket
// into a pipe, then into the other socket): each step returns as soon as
// the source has anything, and its bytes are counted and charged to the
// caps before they go out, so the counters are exact and never behind
// what either end has received. No step takes more than is left of the
// supplier's byte budget, so a session carries exactly its budget and is
// cut there. A pipe starts at 64 KiB; a direction whose step fills it is
// a bulk stream and its pipe grows to 1 MiB (at most 128 at once), for
// fewer steps, wakeups and acknowledgements per byte. Elsewhere, or for
// bytes the relay read along with the first message, they are copied.
//
// A process that only relays (kith-relay) calls BatchScheduling: its
// threads run at SCHED_BATCH, so a relay thread woken by arriving bytes
// does not preempt the thread running on that core but waits for a free
// core or the end of the running slice, and then moves what gathered in
// one step. A directory that relays in its own process does not.
package relay
