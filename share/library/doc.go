// Package library is a device's local store of sealed media: the sealed
// files themselves, named by content ID, and a SQLite index of titles,
// manifests, licenses, partial downloads, playback positions, share
// policies and an upload/download ledger.
//
// # On-disk layout
//
//	<dir>/index.db                SQLite, WAL, one writer connection (plus -wal, -shm)
//	<dir>/content/<cid>.part      a partial download: the sealed file's size, its disk
//	                              space reserved when it starts (fallocate, or on a file
//	                              system without it the free space checked: a full disk, or
//	                              a file system whose files cannot be this large, FAT32 past
//	                              4 GiB, is a NoSpaceError before any byte is fetched), header
//	                              written first, chunks written in place
//	<dir>/content/<cid>.sealed    a complete sealed file (renamed from .part after fsync)
//	<dir>/content/.adding-*       a file of the household's own being sealed (CreateSealTemp:
//	                              its sealed size reserved first, as a download's; Adopt
//	                              renames it to <cid>.sealed)
//
// <cid> is the lowercase hex content ID. Plaintext never touches disk.
//
// # Index schema (migrations/*.sql, applied in order, PRAGMA user_version)
//
//	titles(id, name, artist, media_type, content_id, size, added_at)
//	content(content_id, manifest, num_chunks, file_size, complete, bitmap, have, updated_at)
//	licenses(content_id, license, stored_at)
//	positions(title_id, position_ms, updated_at)
//	policies(title_id, policy JSON)            -- title_id '' is the default
//	ledger(peer, content_id, direction 'up'|'down', bytes, requests, first_at, last_at)
//	artwork(title_id, jpeg)                    -- thumbnails (0002; titles gained tag columns)
//	sources(path, size, mtime_ns, fingerprint, sha256, title_id, added_at)
//	                                           -- files this device added (0002); fingerprint
//	                                           -- (Fingerprint) since 0005, sha256 of the whole
//	                                           -- file only for files added before 0005
//	playlists(id, name, created_at), playlist_items(playlist, pos, title_id)   (0003)
//	watched_folders(path, added_at)            (0004)
//	titles gained width, height (a video's picture size; 0 for audio)   (0006)
//	hand_neighbours(addr, device_id, name, added_at)   -- neighbours added by hand (0007)
//
// # Durability
//
// WriteChunk verifies a chunk against the manifest, writes it at its offset
// and makes it readable at once; its bit in content.bitmap is recorded only
// after an fsync of the .part file (batched: every SyncBytes, SyncInterval,
// at the last chunk, or on Flush). So after kill -9 the index never claims
// a chunk that is not on disk. The batches bound only what a power cut
// loses (32 MiB or 5 s of chunks, fetched again): a process killed or
// crashed loses no chunk it wrote, since the re-hash at reopen (below)
// finds every chunk in the file whatever the index recorded
// (TestKillMidDownloadLosesNoChunk). Listings (Holdings, HeldContent)
// count a loaded content's chunks present now, recorded or not, so they do
// not lag a download by a batch. The chunks' writeback is started as they are
// written, for every MiB of them (Linux: sync_file_range over their span;
// one call a chunk cost twice the CPU), so that fsync waits for the last
// few chunks, not for the whole download. A new .part file is not fsynced
// when created: its header is written at every open and made durable by the
// fsync before its first chunk's bit. On restart a partial file is re-hashed chunk
// by chunk: chunks that fail are fetched again (our own damage never blames
// a peer), chunks written but not yet recorded are recovered. Verify
// re-hashes a content on demand and drops damaged chunks (a damaged
// .sealed file becomes a .part again).
//
// # Listings kept in memory
//
// HeldContent's list and Policies' map are read from the index once and
// kept until a content, title or policy row is written (held.go): a
// node's heartbeat and every peer's offer request ask for them, and they
// change only when a download starts, flushes or completes, or a title,
// content or policy is added, changed or removed. Every write to those
// tables drops them once it is done. The index is written only through
// its Library (a node opens its library once, in share.NewNode), so no
// write goes unseen. ContentPolicy (asked by the peer server for each
// request) answers a content it holds from these two while both are
// current, as the index would (its first title's policy, else the
// default): a download's peers ask right after its announcement read them.
package library
