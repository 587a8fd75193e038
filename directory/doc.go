// Package directory is the authority of a Kith network: accounts, devices,
// the catalog, purchases, licenses, who holds what, who is online and who
// may copy from whom. It holds the client (Client), the wire types, the
// copy-restriction rule shared with peers (Policy.Allows) and the server
// (Server, an http.Handler over a Store; sqlitestore and pgstore implement
// Store, and storetest is the suite both pass).
//
// # Transport and trust
//
// HTTPS, TLS 1.3 only, HTTP/1.1. The server certificate is self-signed with
// the directory's ed25519 identity key, so the directory's identity.ID is
// its fingerprint; clients pin it, given in the URL fragment:
// "https://host:port#FINGERPRINT" (ParseURL). Bodies are JSON (UTF-8), except
// manifests and content, which are binary. Answers go out in full-size TLS
// records from a connection's first byte (no dynamic record sizing, whose
// packet-sized first records made the device's crypto/tls re-grow its input
// buffer record by record; Server.TLSConfig). The Client keeps up to 16
// connections to the directory alive (closed after 90 s idle) and runs each
// request on its caller's goroutine (no reader and writer goroutines per
// connection, as net/http's Transport has); while they are all busy, a
// request waits up to 25 ms for one before opening another (unless all are
// held by origin reads or big uploads, which may take long). A request that
// failed on a reused connection before any answer came is sent again on a
// new one only when it is safe to (GET, HEAD, OPTIONS, DELETE), a signed
// one signed anew (the directory refuses a signature it saw as a replay,
// and it may have received the first). The
// directory never redirects and the Client never follows a redirect: a 3xx
// answer is the call's error (with a ClientOptions.HTTPClient, that
// client's redirect policy applies).
//
// # Signed requests
//
// Endpoints marked "signed" need three headers made with the device key
// (or a connection made with the device's certificate: see Authentication
// by connection):
//
//	Kith-Device:    the device ID
//	Kith-Time:      unix milliseconds
//	Kith-Signature: base64(ed25519(RequestSigningBytes))
//	RequestSigningBytes = "kith directory request v1\x00" || METHOD || "\n" ||
//	                      request-target (path?query as sent) || "\n" ||
//	                      decimal time || "\n" || SHA-256(body)
//
// A time more than 30 s off the server clock is refused (401 replay), and
// so is an exact copy of a request already received within that window
// (the server remembers signatures until their window closes). The headers
// are checked before any body byte is read: an unknown device, a time
// outside the window or a malformed signature is refused on the headers
// alone; the signature itself is verified once the body is read.
//
// # Authentication by connection
//
// A device may instead make its connection with its own certificate (the
// self-signed ed25519 certificate of package identity; the directory asks
// for one and accepts connections without). The handshake accepts exactly
// one such certificate, valid now, whose key the client proves it holds
// (TLS 1.3 CertificateVerify); nothing else is checked then, so a device
// not yet enrolled can still enroll on that connection. A request on it
// that names the certificate's device in Kith-Device and carries no
// Kith-Time or Kith-Signature is authenticated as that device: it must be
// enrolled with that very key (compared byte for byte, at every request,
// through the same five-second device cache as signed requests), and a
// revoked device is refused (403) on connections opened before the revoke.
// A request on it that names any other device is refused (401), signed or
// not: a connection made as one device never acts for another. A
// connection that resumes a TLS session (the client keeps its sessions, so
// its later connections skip the certificates' signatures) carries the
// certificate of the session it resumes, proven in that session's full
// handshake, and is checked the same way. Without a
// client certificate an unsigned request is anonymous, and refused where
// the route needs a device. Signed requests keep working on every
// connection (a client behind something that cannot present its
// certificate signs), and enrollment is always signed.
//
// Replays: what the signature window and cache (and, with several
// instances, the seen_requests table) refuse is a copy of a signed
// request sent again, by whoever saw it. A request authenticated by its
// connection has nothing that can be copied: TLS 1.3 records are
// authenticated and numbered within the connection, this server never
// accepts 0-RTT early data, and another connection would have to prove
// the device key again. The only one who can send it twice is the device
// itself, which could equally sign it twice with two times; so no request
// changes meaning. Go's HTTP client resends by itself (on a reused
// connection that broke before any answer) only GET, HEAD, OPTIONS and
// TRACE requests without an Idempotency-Key header: here only reads,
// never a POST or DELETE.
//
// # Limits on unauthenticated work
//
// Everything a stranger can make the directory do is bounded: open
// connections (4096, more are closed on accept); requests in flight (256 but
// for origin downloads, then 503 busy), of which announcements and
// withdrawals hold at most half (128; one more waits up to 5 s for a slot,
// before its body is read, then 503 busy), so that while the
// store is slow to take holdings the lookups a crowd waits on (suppliers,
// manifest), answered from memory, still find room; request bodies held in
// memory (24 MiB in all and 8 MiB per client, then 503 busy: an 8 MiB
// announcement is held from its first byte until its request ends, as its
// signature covers the whole body); body sizes (16 KiB for account creation
// and enrollment, 256 KiB for registrations and relays, 8 MiB for
// announcements and device publishing); requests per client (200/s) and
// password-checking requests per client (5/s), where a client is an IPv4
// address or an IPv6 /64; argon2id computations at once (2, 19 MiB each;
// more wait up to 5 s, then 503); wrong passwords per account (10, then one
// per 10 s, from any address) and over all accounts (10/s): a guess takes
// its token before its check and gives it back if it was right, so a spent
// budget refuses even the owner until it refills; holdings per device
// (20,000) and of all online devices together (2,000,000, then 503
// capacity); devices per account (32 unrevoked, Options.MaxDevices,
// kith-directory --max-devices; one more is refused 403 device_limit "this
// account already has N devices; remove one in Settings", counted in the
// enrolment's transaction, so concurrent enrolments cannot pass it together;
// a device enrolling again is renamed, never refused): every allowance above
// that is per device, and a crowd's size (the origin budget's rules), would
// otherwise grow with one account's enrolments.
//
// # What a device learns of others
//
// Only what it needs. A supplier list names the account of the asker's own
// devices only. A whois (GET /v1/devices/{id}) of the asker's own account's
// device answers it whole; of another account's device it answers the ID,
// keys and revocation, no name, and for the account a pseudonym ("~" and
// 16 characters: stable per asker and account within one server process,
// never a valid account name, so it matches no policy entry), unless an
// Allow or Deny list of the asker's own announced holdings names that
// account (a peer enforcing its policy needs exactly that), when the
// account is answered. Account creation answers 201 the same whether the
// name was free or taken (the password is hashed either way), so it tells
// no one which names exist: a taken name shows as a failed enrollment.
// Metrics (registrations, charges, bytes per title) are not public: the
// API listener serves /metrics only with Options.MetricsToken as a bearer
// token, and not at all without one; MetricsHandler serves them on an
// admin listener (kith-directory serve --metrics-addr).
//
// # Errors
//
// Every non-2xx answer is {"code": "...", "message": "..."} (type Error).
// Bad input is always 4xx: 400 bad_request (malformed or unknown JSON
// fields, wrong types, oversize arrays, bad IDs), 401 unauthorized/replay,
// 402 card_invalid/card_declined, 403 forbidden/device_limit, 404 not_found, 409
// conflict, 410 withdrawn, 413 too_large (see the limits below), 429
// rate_limited with Retry-After (per client, per device, password
// attempts per client and wrong passwords per account and overall). A
// global cap answers 503 busy (in flight, body bytes, password checks) or
// 503 capacity (holdings) with Retry-After.
//
// # Endpoints
//
//	GET    /v1/info                  Info: name, version, ID, public keys
//	POST   /v1/accounts              {"account","password"} → 201 {"account"} (argon2id hash kept), the same
//	                                 answer when the name is taken (nothing is changed then)
//	POST   /v1/devices               {"account","password","name","keys"} signed by the enrolled key → 201 Device;
//	                                 403 device_limit when the account has Options.MaxDevices devices;
//	                                 400 for a name CheckDeviceName refuses (controls, bidi controls,
//	                                 invisible characters), which Client.EnrollDevice refuses unsent
//	GET    /v1/devices               signed: {"devices":[Device]}, the caller's account's unrevoked devices
//	                                 (at most Options.MaxDevices; older directories listed revoked ones too)
//	GET    /v1/devices/{id}          signed: Device (whois): whole for the caller's own account's devices;
//	                                 for others ID, keys, revoked and a pseudonym for the account
//	                                 (the account itself if the caller's announced policies name it)
//	DELETE /v1/devices/{id}          signed: revoke a device of the caller's account → 204
//	POST   /v1/devices/leave         signed: {"account"} (the caller's own) → 204: the caller leaves
//	                                 its account (enrollment, announcement, holdings removed; the
//	                                 key may enroll again, under any account); 409 for another account;
//	                                 a revoked device is refused (403) and stays revoked
//	GET    /v1/titles?q=&page=&per_page=  {"titles":[Title],"total","page","per_page"}; per_page ≤ 100
//	                                 (a count given as 0 — page, per_page, a lookup's limit — is its default)
//	GET    /v1/titles/{id}           Title (a household title only to its owner's account, else 404)
//	GET    /v1/titles/{id}/artwork   the title's cover thumbnail, image/jpeg; 404 when it has none
//	POST   /v1/publish               signed: PublishRequest (a device's own file: manifest, content key
//	                                 sealed to the directory, tags, artwork) → Published {title, signed
//	                                 manifest}, when PublishPolicy allows the caller; household-only
//	                                 and free unless it asks otherwise
//	POST   /v1/pair/start, /v1/pair/finish   pairing a device by join code (package directory/pairing)
//	GET    /v1/manifests/{content}   the signed manifest (sealed.Manifest.MarshalBinary)
//	POST   /v1/registrations         license.SealedRegistration → Registered {license, receipt}
//	POST   /v1/relay                 license.Relayed (a supplier's wrapper) → license.SealedReply: RelayAnswer (license and receipt, or the 4xx refusal) sealed to the requester
//	GET    /v1/licenses/{content}    signed: a fresh license for the caller, if its account owns the title
//	POST   /v1/announce              signed: Announcement (heartbeat; replaces the holdings set) → AnnounceAnswer
//	                                 {"expires","ttl_seconds","public_ip"} and, with a relay (Options.Relay),
//	                                 "reachable" and "relay" {"addr","id"};
//	                                 every string validated (ValidateAnnouncement): addresses are IPs
//	                                 without a zone or DNS names, no control bytes, bounded lengths;
//	                                 with ?suppliers={content}[&limit=N] the answer also carries, in
//	                                 "suppliers_bin" (base64), the lookup GET /v1/suppliers answers once
//	                                 this announcement is recorded, in SuppliersMediaType's form: a
//	                                 download's start in one round trip (announcelookup.go); with &v=2
//	                                 (or higher) in SuppliersMediaTypeV2's, with the order of arrival
//	                                 "holdings_same" (base64 HoldingsDigest) instead of "holdings": the
//	                                 holdings of the device's last announcement, if their digest is that,
//	                                 else 409 holdings_unknown (send them in full): a heartbeat in a few
//	                                 bytes whatever the library's size (announcesame.go)
//	DELETE /v1/announce              signed: withdraw (going offline) → 204
//	GET    /v1/suppliers/{content}?limit=N  signed: {"suppliers":[Supplier]} ranked, filtered, origin last;
//	                                 "account" only for the caller's own devices; to "Accept:
//	                                 application/vnd.kith.suppliers.v1" the same list in that compact
//	                                 binary form (SuppliersMediaType), unless a string in it is not
//	                                 printable ASCII; "Vary: Accept" either way; to "Accept: …v2" (what
//	                                 Client asks for, beside v1) SuppliersMediaTypeV2: v1's form and each
//	                                 download's place in the order the crowd's downloads were first
//	                                 announced, the asker's among them (Supplier.Arrival), so a forming
//	                                 crowd's devices agree on their pairs without asking again
//	POST   /v1/relay/ticket          signed: {"supplier"} → TicketAnswer {"ticket","relay","expires"}: a relay
//	                                 ticket (package directory/relay, 2 min) for a supplier online and
//	                                 holding something whose policy allows the caller; 404 otherwise
//	                                 and when the directory offers no relay
//	GET    /v1/content/{content}     ciphertext from the origin store; Range supported; unsigned
//	                                 (ciphertext is useless without a license; bytes served are
//	                                 counted per content in the metrics)
//	GET    /healthz                  {"status":"ok","id","online"} when the store answers; online is
//	                                 "loading" until the index of who is online is read (lookups wait)
//	GET    /metrics                  Prometheus text format, only with "Authorization: Bearer <MetricsToken>"
//	                                 (404 when no token is set; MetricsHandler serves an admin listener)
//
// Registrations are authenticated by the registration's own device
// signature (and a relay by the supplier's wrapper signature), not by
// request headers: the same registration may be resent safely. The
// registering device must be enrolled, unrevoked, under the account the
// registration names.
//
// # Purchases and idempotency
//
// The registration nonce is the idempotency key (UNIQUE in the store); an
// account holds at most one pending-or-paid purchase per title (a partial
// UNIQUE index). A registration first inserts a pending purchase (or finds
// the standing one), then, for a priced title, charges through the
// PaymentProcessor with the nonce as the processor's idempotency key, then
// marks it paid, queues the billing event and records the license in one
// transaction. Concurrent copies share one charge (singleflight per
// purchase); later copies of the same registration (its nonce), to any
// instance, get the same receipt and the same license (kept with the
// purchase). Every
// device of the account then gets its own license without paying again.
// A declined card declines that nonce for good (send a new registration).
// The built-in TestProcessor accepts any Luhn-valid unexpired card except
// DeclineCard (4000000000000002); only brand, last 4 and a token are kept.
// When it keeps its charges in the server's own store (ChargeLedger, the
// default), a new purchase it accepts is one transaction instead of three:
// the paid purchase, its charge, billing event and license together
// (ChargedPurchase: all or nothing; a standing purchase or a charge
// already standing under the nonce sends the registration down the
// general path above). A processor outside the database cannot be part of
// the transaction: its charge stays between the pending and the paid one.
// Registrations read the device through the device cache (a revoke through
// this server applies at once, through another instance within 5 s) and
// the title through a 1 s cache (a title only changes by withdrawal).
//
// # Billing outbox
//
// Each new purchase queues a BillingEvent, delivered at least once to the
// webhook as POST JSON with headers Kith-Event-Id and
// Kith-Webhook-Signature: "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>"
// (VerifyWebhook). Failures retry after 1 s, 2 s, 4 s … (cap 1 h, +20 %
// jitter); the outbox is in the database so it survives restarts.
// ExportBillingCSV writes it as CSV.
//
// # Suppliers and the ranking rule
//
// A device's announcement lives AnnounceTTL (90 s) after its last
// heartbeat. A heartbeat that repeats the stored announcement unchanged is
// answered without a store write while more than half of that time is
// left (the answer's expires is the stored one; an idle device writes
// every other 30 s heartbeat; counted as route "announce_unchanged").
// Who is online is ephemeral state: the server keeps every
// unexpired, unrevoked, unwithdrawn holding in memory by content (loaded
// once from the Store, which stays the durable record, then updated by
// announce, withdraw and revoke; expired devices are skipped at once and
// swept every AnnounceTTL), so a lookup reads no database. On SQLite the
// serving process must be the only writer of announcements; instances
// sharing a PostgreSQL database (a SharedStore) also apply each other's
// changes from the store's change feed, polled every 500 ms. GET
// /v1/suppliers/{content} considers at most 1000 holders (those announced
// from the asker's public address first, then a stretch of the others that
// starts at a random place for each lookup), drops the asker and every holder
// whose owner's Policy does not allow the asker (Policy.Allows with the
// asker's device and account), and orders the rest:
//
//  1. same LAN first: the holder announced from the asker's public address
//     (as seen by the directory) and they share a private subnet (/24 for
//     IPv4, /64 for IPv6, or the announced CIDR);
//  2. then by the RTT the asker reported to that holder in its own
//     announcement (rtts), lowest first, unknown last;
//  3. then in a weighted random order drawn afresh for each lookup: a
//     holder's weight is 2 when complete, 1 when partial, divided by 1 +
//     its load (active uploads) (supplierKey; RankSuppliers is the rule in
//     code).
//
// A device reads an answer's crowd with ReadCrowd (Crowd: who is
// downloading the title, who holds it whole, their order of arrival, and
// whether the crowd may be bigger than the answer), as the crowd
// simulator (internal/swarmsim) does with its own directory's answers.
//
// A directory with a relay (Options.Relay) also checks, on an announcement,
// whether it can complete a TLS handshake with the device at the address
// the announcement came from, on each announced port (at most 4, 3 s; the
// first check before answering, then again every 10 minutes or when the
// address changes; never at an address a device names). The answered
// suppliers then carry Reach ("direct", "relayed" for an unreachable one
// keeping a connection to the relay, which it says in its announcement's
// "relay", or "unreachable") and Relay, and are re-ordered, the order
// above kept within each class: same LAN, then direct (or unchecked), then
// relayed, then unreachable. Reachability is kept in memory only: after a
// restart it is known again with each device's next heartbeat.
//
// The first limit (default 16, at most 50) are answered, so a crowd bigger
// than the limit is sampled, not cut: each asker gets its own subset and
// the peer graph stays connected. Then comes the origin
// store (Origin: true, fetched
// with GET /v1/content) when it has the content. Score is (n−i)/n.
//
// # The origin as supplier of last resort
//
// GET /v1/content is public, but a read signed by a device says who asks.
// While another online holder the asker may copy from exists, the origin
// super-seeds (OriginBudget): each part of the sealed file is handed out
// about once, to a device that announced the content (it passes it on);
// a part refused to 16 sharers since it went out, 10 s or more ago
// (and, when 128 or more other devices hold or download the content
// online, refused to 4 times as many sharers as the content's other
// parts on average, each sharer counted once per part, so a device
// asking again and again for parts it does not need cannot raise that
// mean to hide a stuck part, nor, by the 4,096 (part, sharer) pairs a
// device holds at most, can one household's devices fill the 1 Mi pairs
// the directory keeps for every crowd: refusals grow with the crowd, so there 16
// say nothing, while a part its holder cannot serve stands out and
// parts that spread are refused alike; a smaller crowd keeps the count alone, so a stalled holder that
// got a quarter or more of the first copies still has them given again
// after 10 s; between 50 and 500 devices both rules gave the same
// figures in the simulator, stalled holders or not: see stuckCrowd), counts as lacking again (its holder is not passing it on) unless a
// complete holder the asker may copy from is online (the part went
// through the crowd; in a crowd of thousands every part is refused that
// often while it spreads), the part went out less than a minute ago
// ("complete" is the holder's claim) and it does not stand out (refused
// to 4 times as many sharers as the others on average: a stalled device
// that completed claims every part, serving none, and the part the crowd
// asks the origin for alone is the one it holds back), and so does, with the same exception, a part
// whose holder stopped sharing it (if the part went into a crowd of 128
// or more 10 s or more before, only if it stands out likewise: by then
// its holder passed it on; and so if its holder announced it stopped
// sharing the content, or withdrew, 4 s or more after the part went out,
// or if it stands out since then: see originleft.go; its new first copy replaces the
// gone one in the cap on first copies, twice the size, for one size of
// such copies per episode: holders taking turns to leave cannot draw the
// content again and again). A part's holder reading it again (a read
// that failed) gets it twice more as the same copy: that read does not
// make the part "just went out", and a stuck part is not given again to
// its holder, so a holder that does not pass a part on cannot keep it
// from counting as lacking by reading it again. Any other
// read is served only from a repeat budget (10 % of the size, refilled
// over 5 minutes, for parts whose one holder left, and for devices that
// share nothing back) and otherwise answered 503 origin_busy with
// Retry-After and Kith-Retry-After-Ms ("busy, ask your peers"; not logged
// as a failure). A device alone with a content is always served, and so
// is an unsigned read: peers serve only enrolled devices, so it has
// nobody else to ask. A read signed for a device that does not
// authenticate (a replayed or stale signature) gets only the repeat
// budget while others hold the content.
//
// A request whose client went away is recorded as 499 (metrics, debug
// log), never answered or logged as a server error.
//
// # Copy restrictions
//
// Policy modes: anyone (default), household (the owner's account only),
// list (the owner's account plus Allow: device IDs or account names),
// nobody. Deny wins over every mode; unknown modes allow no one. The
// directory applies the policy when listing suppliers and when a relayed
// registration names a supplier; peers apply the same Policy.Allows.
package directory
