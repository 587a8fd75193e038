// Package directory is the authority of a Kith network: accounts, devices,
// the catalog, purchases, licenses, who holds what, who is online and who
// may copy from whom. It holds the client (Client), the wire types, the
// copy-restriction rule shared with peers (Policy.Allows) and the server
// (Server, an http.Handler over a Store; sqlitestore implements Store).
//
// # Transport and trust
//
// HTTPS, TLS 1.3 only, HTTP/1.1. The server certificate is self-signed with
// the directory's ed25519 identity key, so the directory's identity.ID is
// its fingerprint; clients pin it, given in the URL fragment:
// "https://host:port#FINGERPRINT" (ParseURL). Bodies are JSON (UTF-8), except
// manifests and content, which are binary.
//
// # Signed requests
//
// Endpoints marked "signed" need three headers made with the device key:
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
// (the server remembers signatures until their window closes).
//
// # Errors
//
// Every non-2xx answer is {"code": "...", "message": "..."} (type Error).
// Bad input is always 4xx: 400 bad_request (malformed or unknown JSON
// fields, wrong types, oversize arrays, bad IDs), 401 unauthorized/replay,
// 402 card_invalid/card_declined, 403 forbidden, 404 not_found, 409
// conflict, 410 withdrawn, 413 too_large (bodies over 1 MiB; announcements
// 8 MiB), 429 rate_limited with Retry-After (per client IP, per device, and
// a stricter per-IP limit on the password-checking endpoints).
//
// # Endpoints
//
//	GET    /v1/info                  Info: name, version, ID, public keys
//	POST   /v1/accounts              {"account","password"} → 201 (argon2id hash kept)
//	POST   /v1/devices               {"account","password","name","keys"} signed by the enrolled key → 201 Device
//	GET    /v1/devices               signed: {"devices":[Device]} of the caller's account
//	GET    /v1/devices/{id}          signed: Device (whois: which account a device belongs to)
//	DELETE /v1/devices/{id}          signed: revoke a device of the caller's account → 204
//	GET    /v1/titles?q=&page=&per_page=  {"titles":[Title],"total","page","per_page"}; per_page ≤ 100
//	GET    /v1/titles/{id}           Title
//	GET    /v1/manifests/{content}   the signed manifest (sealed.Manifest.MarshalBinary)
//	POST   /v1/registrations         license.SealedRegistration → Registered {license, receipt}
//	POST   /v1/relay                 license.Relayed (a supplier's wrapper) → license.SealedReply: RelayAnswer sealed to the requester
//	GET    /v1/licenses/{content}    signed: a fresh license for the caller, if its account owns the title
//	POST   /v1/announce              signed: Announcement (heartbeat; replaces the holdings set) → {"expires","ttl_seconds","public_ip"}
//	DELETE /v1/announce              signed: withdraw (going offline) → 204
//	GET    /v1/suppliers/{content}?limit=N  signed: {"suppliers":[Supplier]} ranked, filtered, origin last
//	GET    /v1/content/{content}     ciphertext from the origin store; Range supported; unsigned
//	                                 (ciphertext is useless without a license; bytes served are
//	                                 counted per content in /metrics)
//	GET    /healthz                  {"status":"ok","id","online"} when the store answers; online is
//	                                 "loading" until the index of who is online is read (lookups wait)
//	GET    /metrics                  Prometheus text format
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
// purchase); later copies get the same receipt and a fresh license. Every
// device of the account then gets its own license without paying again.
// A declined card declines that nonce for good (send a new registration).
// The built-in TestProcessor accepts any Luhn-valid unexpired card except
// DeclineCard (4000000000000002); only brand, last 4 and a token are kept.
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
// heartbeat. Who is online is ephemeral state: the server keeps every
// unexpired, unrevoked, unwithdrawn holding in memory by content (loaded
// once from the Store, which stays the durable record, then updated by
// announce, withdraw and revoke; expired devices are skipped at once and
// swept every AnnounceTTL), so a lookup reads no database. The serving
// process must be the only writer of announcements. GET
// /v1/suppliers/{content} considers at most 1000 holders (those announced
// from the asker's public address first), drops the asker and every holder
// whose owner's Policy does not allow the asker (Policy.Allows with the
// asker's device and account), and orders the rest:
//
//  1. same LAN first: the holder announced from the asker's public address
//     (as seen by the directory) and they share a private subnet (/24 for
//     IPv4, /64 for IPv6, or the announced CIDR);
//  2. then by the RTT the asker reported to that holder in its own
//     announcement (rtts), lowest first, unknown last;
//  3. then by load (active uploads), then complete before partial, then device ID.
//
// The first limit (default 16, at most 50) are answered, then the origin
// store (Origin: true, fetched
// with GET /v1/content) when it has the content. Score is (n−i)/n.
//
// # Copy restrictions
//
// Policy modes: anyone (default), household (the owner's account only),
// list (the owner's account plus Allow: device IDs or account names),
// nobody. Deny wins over every mode; unknown modes allow no one. The
// directory applies the policy when listing suppliers and when a relayed
// registration names a supplier; peers apply the same Policy.Allows.
package directory
