// Package pairing is how a device comes to trust a household's directory:
// with proof the user carried from the directory's own screen, not with
// whatever answered on the LAN first.
//
// mDNS announcements (package share/lan) are unauthenticated: anyone on the
// LAN can announce a directory, copy the real directory's TXT record
// (fingerprint included) or grind a key whose fingerprint starts like the
// real one. A device therefore sends nothing — no password, no card, no
// account creation — to a directory it has not paired with (or been given
// as URL#FINGERPRINT on the command line). Pairing is the proof.
//
// # Join code
//
// The directory's device shows a one-time join code: 10 symbols of
// Crockford's base32 alphabet "0123456789ABCDEFGHJKMNPQRSTVWXYZ" (50
// bits from crypto/rand), shown as two groups of five, "7KQ2M-XD4HP".
// ParseCode accepts at most 64 bytes, ignores case, spaces and '-', reads
// I and L as 1 and O as 0, and refuses anything else or any other length.
// A code expires CodeTTL (10 minutes) after it was shown, allows MaxTries
// (5) pairing attempts, and is burned by the first successful pairing;
// showing a new code replaces the old one.
//
// The embedded household directory (app/wire) shows codes on its own
// screen (Pairer.Issue). A headless directory gets one from
// `kith-directory pair-code`, which writes a code file next to the
// directory's key; the running server reads it at the next attempt.
//
// # Key
//
// Both sides stretch the code into a key bound to the directory's full
// ed25519 public key (32 bytes, as presented in its TLS certificate):
//
//	salt = SHA-256("kith pair v1 salt\x00" || directory public key)     32 bytes
//	K    = argon2id(password = canonical code without '-' (10 ASCII bytes),
//	                salt, time = 2, memory = 64 MiB, threads = 1, 32 bytes)
//
// Stretching makes an offline search of the code space (from one observed
// proof) cost 2^50 argon2id evaluations, far beyond the code's 10 minutes.
//
// # Protocol
//
// Over HTTPS (TLS 1.3) to the directory. The joining device pins the
// fingerprint it chose from the list (identity.VerifyCertificate), and
// uses the public key of the certificate it verified as the directory
// public key below — so a rogue that copied the fingerprint fails the TLS
// handshake (it has no private key), and a rogue with its own key gets a
// transcript bound to its own key, for which it cannot compute K. A
// directory typed as an address (no fingerprint) is paired the same way
// with whatever key its certificate carries (every connection of one
// pairing must present the same key): the proof is what authenticates
// that key, and the fingerprint saved is the key's.
//
//	step 1  joiner → POST /v1/pair/start  {"device": joiner device ID,
//	                                       "nonce": base64(32 random bytes Nj)}
//	        directory → 200 {"session": base64(16 random bytes),
//	                         "nonce": base64(32 random bytes Nd)}
//	        Counts one try of the code showing now (none showing: 409
//	        no_code; tries used up or expired: 410 code_gone).
//	step 2  joiner → POST /v1/pair/finish {"session": …, "proof": base64(Pj)}
//	        directory → 200 {"proof": base64(Pd)} when Pj is right (the code
//	        is burned, every other session dropped), else 403 wrong_code.
//	step 3  The joiner checks Pd; only then does it save the directory.
//
// base64 is the standard alphabet with padding (RFC 4648 section 4), as
// encoding/json writes byte slices; decoded lengths must be exact. The
// proofs are, byte for byte (|| is concatenation, u8 a single length byte):
//
//	T  = "kith pair v1\x00" || directory public key (32) || Nj (32) || Nd (32)
//	     || u8(len(joiner ID)) || joiner ID (ASCII, canonical)
//	Pj = HMAC-SHA-256(K, "joiner\x00" || T)
//	Pd = HMAC-SHA-256(K, "directory\x00" || T)
//
// The joiner proves first, so the directory reveals nothing computed from
// the code to a device that does not know it; a rogue directory learns Pj,
// bound to its own key and usable only for an offline search of 2^50
// argon2id evaluations before the code expires. Sessions expire after
// SessionTTL (2 minutes); at most MaxSessions are open at once. Bodies are
// JSON objects of at most MaxBody bytes with no unknown fields
// (DecodeStart, DecodeFinish, DecodeStartAnswer, DecodeFinishAnswer).
// Errors are the directory's usual {"code","message"} bodies.
//
// # Code file
//
// `kith-directory pair-code` writes (atomically, mode 0600) one JSON
// object of at most MaxBody bytes:
//
//	{"v":1, "id": base64(16 random bytes), "key": base64(K),
//	 "expires": unix seconds}
//
// The server (PairerOptions.CodeFile) reads it when a pairing starts and
// the file changed; it counts tries per id in memory and deletes the file
// when the code is burned or used up. The code itself is only printed.
package pairing
