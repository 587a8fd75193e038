// Package identity is who a device is: its keys, its ID, its TLS certificate,
// and the small sealed boxes other parties address to it.
//
// # Keys
//
// Every device (and every directory) has an ed25519 signing key and an X25519
// key for receiving wrapped secrets (content keys). Both live in one key file.
//
// # Device ID
//
// The ID is derived from the ed25519 public key only:
//
//	sum   = SHA-256(ed25519 public key)                 32 bytes
//	b32   = base32 (RFC 4648 alphabet A-Z2-7, no padding) of sum   52 characters
//	luhn  = b32 cut into 4 groups of 13, each followed by its Luhn mod 32
//	        check character                                56 characters
//	ID    = luhn cut into 8 groups of 7 joined by '-'      63 characters
//
// The check character of a group is the Luhn mod N algorithm with N = 32 over
// the alphabet above (factor 2 on the rightmost data character, alternating
// leftwards; each addend reduced as addend/32 + addend%32; check =
// (32 - sum%32) % 32). Any single-character substitution anywhere in an ID
// changes the check of its group, so ParseID rejects a mistyped ID instead of
// resolving it to some other device. ParseID ignores case, dashes and spaces;
// the canonical form (String) is upper case with dashes.
//
// # Key file
//
// A key file is UTF-8 text, mode 0600, written atomically (temporary file in
// the same directory, fsync, rename or link, fsync of the directory). It has
// exactly these five lines, each ending in "\n", and nothing else:
//
//	kith identity v1
//	sign <base64 std, padded: 32-byte ed25519 seed>
//	box <base64 std, padded: 32-byte X25519 private key>
//	id <the device ID, canonical form>
//	check <hex: first 16 bytes of SHA-256 over all the bytes of the lines above>
//
// Any deviation (another version, a missing or extra line, a bad checksum, an
// id that does not match the key) is an error wrapping ErrBadKeyFile; a key
// file is never silently regenerated.
//
// # TLS
//
// Certificate returns a self-signed X.509 certificate for the ed25519 key
// (Ed25519 signature, subject CN = the ID, valid from one hour ago for 20
// years). Peer connections are TLS 1.3 only and mutual. Because the
// certificates are self-signed, the configs skip chain verification
// (InsecureSkipVerify on the client, RequireAnyClientCert on the server) and
// instead check in VerifyConnection — which also runs on resumed sessions —
// that the peer presented exactly one certificate whose ed25519 key hashes to
// the expected ID, whose self-signature is valid and whose validity period
// contains now (with a day of slack for bad clocks). A mismatch is ErrWrongPeer.
// A certificate whose self-signature checked out is remembered by the
// SHA-256 of its DER (up to 4096, process-wide), so the signature of a peer
// met again is not checked again; its ID and validity period always are.
//
// # Sealed boxes
//
// SealTo encrypts a small secret to an X25519 public key:
//
//	box = 0x01 || E (32 bytes, ephemeral X25519 public key) || ChaCha20-Poly1305 ciphertext+tag
//	shared = X25519(e, R)
//	key    = HKDF-SHA256(secret = shared, salt = none,
//	                     info = "kith seal v1\x00" || E || R, 32 bytes)
//	nonce  = 12 zero bytes (each key encrypts exactly one message)
//
// with the caller's associated data as the AEAD's additional data. Opening with
// the wrong key, a modified box or different associated data fails with
// ErrOpen.
package identity
