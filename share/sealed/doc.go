// Package sealed is Kith's encrypted file format: a sealed file made once
// at publish time (so every copy is byte-identical), its manifest and
// content ID (verifiable without the key), and a Reader that releases only
// verified plaintext, chunk by chunk, over a complete or partial file.
//
// # Cipher
//
// Chunks are AES-256-GCM: BenchmarkCipher compares it with
// ChaCha20-Poly1305 on 256 KiB chunks in the same run, and AES-GCM won
// every paired run on machines with AES-NI (`make bench` prints the
// figures of the machine it runs on).
//
// Sequential Reader throughput is bounded by the SHA-256 manifest check
// (BenchmarkChunkHash), not the AEAD (BenchmarkSealedRead64MiB against
// BenchmarkBareAEAD64MiB). The hash stays for chunks from
// untrusted sources: with only the AEAD, any key holder (every licensee)
// could forge chunks the directory never signed. But a chunk is checked
// once, where it enters the device: a ChunkSource that implements
// HashVerifier (the library verifies every chunk before storing it) lets
// the Reader rely on the AEAD alone, which still stops on-disk damage,
// swapped and foreign chunks (ErrAuth) before any plaintext is released
// (BenchmarkSealedReadVerified64MiB, paired with the bare AEAD in `make bench`).
//
// # Sealed file
//
// All integers big-endian.
//
//	offset  size  field
//	0       8     magic "KITHSEAL"
//	8       2     version = 1
//	10      4     chunk size C (plaintext bytes per chunk), 256 ≤ C ≤ 16 MiB
//	14      8     plaintext length L, L ≤ 2^48
//	22      1     media type length M ≤ 127
//	23      M     media type, bytes 0x20–0x7e
//	23+M    32    salt (random per file)
//	55+M    32    key check = HKDF-SHA256(content key, salt, "kith sealed key check v1")
//	87+M          chunks 0 … N−1
//
// N = max(1, ceil(L/C)): an empty file still has one (empty) final chunk,
// so truncating it is detectable. Chunk i holds plaintext bytes
// [i·C, min((i+1)·C, L)) and is stored as AES-256-GCM ciphertext ‖ 16-byte
// tag, at offset 87+M + i·(C+16). File size = 87+M + L + 16·N; nothing
// may follow the last chunk.
//
// STREAM construction: payload key = HKDF-SHA256(content key, salt,
// info "kith sealed payload v1"), 32 bytes. Nonce of chunk i (12 bytes) =
// 0x000000 ‖ uint64(i) ‖ (0x01 if i = N−1 else 0x00). Associated data of
// every chunk = SHA-256("kith sealed chunk ad v1\x00" ‖ header bytes with
// the 8 length bytes zeroed). The AD binds chunk size, media type, salt and
// key check, so a chunk from another sealed file fails (its salt gives a
// different key too). The length is left out of the AD so Seal can stream
// input of unknown length into a seekable destination and patch the length
// at the end; it is still authenticated: the last-chunk flag pins N, and the
// last chunk's size (from L) must match its tag exactly, so a changed L
// fails the AEAD of the final chunk.
//
// Seal's length: Options.Length if set (the source must then give exactly
// that many bytes); else the remaining size of src if it is an io.Seeker;
// else dst must be an io.WriteSeeker and the header's length is patched
// after the last chunk. Plaintext is never buffered beyond two chunks and
// never written anywhere but as ciphertext to dst.
//
// The key check is a key commitment: Open reports ErrWrongKey before
// reading a chunk, and an AEAD failure later means the chunk is damaged
// (ErrAuth), not that the key is wrong.
//
// # Manifest and content ID
//
// Chunk hash i = SHA-256 of ciphertext chunk i exactly as stored (with its
// tag). Content ID = SHA-256("kith content v1\x00" ‖ header bytes ‖ hash 0
// ‖ … ‖ hash N−1). The directory signs with ed25519 the signing bytes
// "kith manifest v1\x00" ‖ content ID. Binary encoding (MarshalBinary,
// ParseManifest; strict — any other length or count is rejected):
//
//	8   magic "KITHMFST"
//	2   version = 1
//	2   header length H
//	H   header bytes (as in the file, parsed and validated)
//	4   chunk count, must equal N from the header
//	32N chunk hashes
//	2   signature length S, 0 or 64
//	S   ed25519 signature
//
// In JSON (MarshalText) a manifest is one string: standard base64 of
// that encoding.
//
// # Reading
//
// A Reader gets ciphertext chunks from a ChunkSource (FileSource for a
// complete file; a downloader's source waits for chunks until its context
// is done), checks the chunk's SHA-256 against the manifest, then opens the
// AEAD in place, and only then copies plaintext out. It caches four
// decrypted chunks; Close cancels waits and zeroes them and the payload key.
// Every damage is a typed error (errors.Is) wrapped in a *ChunkError naming
// the chunk: ErrChunkHash (bit flip, swapped or foreign chunk vs the
// manifest), ErrAuth (same, when the manifest itself was rebuilt from the
// damaged file), ErrTruncated, ErrTrailingData, ErrBadHeader, ErrWrongKey.
package sealed
