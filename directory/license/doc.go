// Package license is what the directory says: licenses that hand a content
// key to one device, and the sealed registrations (purchases) that ask for
// them, possibly relayed by a supplier that may neither read nor alter them.
//
// # License
//
// A License names one content (content ID and title), one device, the
// account that bought it (may be empty), its rights (re-share or not; an optional expiry),
// when and by which directory it was issued, and carries the content key
// sealed to the device's X25519 key (identity.SealTo) with associated data
//
//	"kith license key v1\x00" || JSON{id, content, title, device, account, rights, issued, issuer}
//
// so a wrapped key cannot be moved to another license. The directory signs
// (ed25519)
//
//	"kith license v1\x00" || JSON{id, content, title, device, account, rights, issued, key, issuer}
//
// The encoding on disk and on the wire is the canonical JSON
//
//	{"id":…,"content":…,"title":…,"device":…,"account":…,
//	 "rights":{"reshare":…[,"expires":…]},"issued":…,"key":…,"issuer":…,"sig":…}
//
// with exactly these keys in this order, no white space, Go's encoding/json
// escaping, times in RFC 3339 UTC ("Z") with Go's shortest fractional
// seconds, the content ID in lower-case hex, device and issuer IDs in
// canonical form, key and sig in standard padded base64. Parse decodes,
// re-encodes and compares bytes, so any other spelling of the same license
// (white space, key order or case, unknown or duplicate keys, escapes, time
// zones, upper-case hex) is ErrMalformed: there is exactly one byte string
// per license.
//
// Open checks, in order: the structure (ErrMalformed); that the issuer is the
// pinned directory key and the signature verifies (ErrBadSignature); the
// device (ErrWrongDevice); the content (ErrWrongContent); the expiry
// (ErrExpired); and only then unwraps the key (ErrUnwrap). The key is
// returned in memory only; nothing here writes it anywhere. Verify makes
// the same checks without unwrapping: a device checks a license with it
// when the license arrives, so the key is unwrapped once, at play.
//
// # Sealed registration
//
// A Registration (title, account, optional payment details, the requesting
// device's public keys, a nonce that is also the idempotency key, and the
// time) is JSON-encoded and sealed to the directory's X25519 key with
// associated data "kith registration v1\x00" || device ID. The device signs
//
//	"kith registration sig v1\x00" || device ID || ciphertext
//
// A SealedRegistration is {"device":ID,"ct":base64,"sig":base64}. A relay sees
// only the device ID. OpenRegistration (by the directory) decrypts, decodes
// strictly, checks that the device keys inside hash to the outer device ID,
// verifies the device signature and that the time is within the allowed
// clock skew of now. Replays inside that window carry the same nonce; the
// directory deduplicates on it.
//
// # Relayed registration
//
// A supplier forwarding a registration wraps it in a Relayed and signs
//
//	"kith relayed v1\x00" || JSON{registration, supplier, time}
//
// with its own device key, so the directory knows (and can credit) who
// relayed it. Relayed.Verify checks only that signature; the directory
// checks that the supplier is enrolled.
package license
