// Package peer is Kith's device-to-device protocol: the peer server every
// device runs, a client for it, and the multi-source Fetcher that downloads
// one sealed file from several peers (and the directory's origin store) at
// once, verifying every chunk against the directory-signed manifest.
//
// # Transport
//
// HTTP/2 over mutual TLS 1.3 (HTTP/1.1 too, for a peer that offers only
// that, and through a relay). Both sides present the self-signed device
// certificate made from their ed25519 key (identity.Certificate); the client
// pins the server's device ID (identity.ClientTLS), the server reads the
// client's ID from its certificate (identity.PeerID) and applies its owner's
// share policy to it. Every request a device sends one peer is a stream of
// one connection: a pair of devices pays one handshake (handshakes
// were a third to a half of a crowd's CPU when each request in flight was
// an HTTP/1.1 connection), and a request cancelled halfway (a steal, a Have
// poll cut short) resets its stream instead of closing the connection.
// The first request to a peer goes alone, so a burst to a new peer opens
// one connection. Bounds per connection: 32 streams at once
// (HTTP2Config.MaxConcurrentStreams; the client waits for a stream rather
// than open another connection), headers 16 KiB (64 KiB read by the
// client), receive windows of 1 MiB per stream and 4 MiB per connection
// at the client, a write deadline per answer and a connection closed
// when nothing can be written to it for WriteTimeout. Both ends send
// full-size TLS records from a connection's first byte (no dynamic record
// sizing: its packet-sized first records made the receiving end's
// crypto/tls re-grow its input buffer record by record, ~200 KB a
// connection end; Server.TLSConfig).
//
// Two peers that both speak it use the chunk wire instead of HTTP/2 on
// that connection (chunkwire.go; ALPN "kith-wire/1", offered first and
// preferred by the server, so an older peer is still spoken to over
// HTTP): the same requests and answers in length-prefixed binary frames,
// tagged, up to 32 in flight, served by the same handlers. The client
// reads a chunk's bytes from TLS straight into its buffer and the server
// writes them from its read buffer, its TLS records gathered into one
// socket write, and a reader in the middle of a stream takes what is
// waiting in one socket read, not one a record or two (corkConn's
// read-ahead): a 256 KiB chunk costs both ends about a third less CPU
// than over HTTP/2, a /have poll almost half less (BenchmarkRequest). An
// answer is at most a chunk of the largest size sealed allows (16 MiB),
// one written in pieces at most a manifest's bound (8 MiB): /content
// ranges longer than that are HTTP's. A caller that goes away before its
// answer sends a cancel (its handler's context ends); one that goes away
// while reading a body stops at once and the rest is skipped; a
// connection with requests in flight that hears nothing for 30 s, or a
// malformed frame, is closed.
//
// A device running a peer server of its own (ClientOptions.Server) offers
// the wire both ways ("kith-wire/2", before "kith-wire/1"): either end of
// the connection may then send requests, and the other serves them with
// its handlers as from the device whose certificate it verified in the
// handshake (the server: the client's certificate; the client: the
// server's, pinned to the ID it dialled), under the same policies, upload
// slots and ledger as a request on a connection that device dialled. A
// client's requests to a device that dialled its server this way go over
// that connection (Server.wiresFrom, by verified device ID) instead of a
// new one, so a pair that downloads from each other (a crowd's usual
// pair, and every connect-back to a poller) pays one handshake, not two.
// One reader per connection hands request frames to the serving side and
// answers to their callers; the connection stays open while anything is
// in flight either way, and closes when idle both ways (90 s at the
// dialling end, IdleTimeout at the other). Two devices that dial each
// other at the same moment (simultaneous open: both find the other in the
// same resupply round) keep one connection: a dial offering the wire both
// ways gives way when the peer's connection to our server arrives before
// our certificate goes out (pairdial.go), closing ours mid-handshake and
// sending its requests over the peer's; since the peer's connection
// arrives only after the peer committed its own dial, at most one of the
// two gives way. A GET or HEAD that went out on
// a live connection as the other end closed it, unanswered, is sent again
// on a new one, as net/http does on a reused connection, and so is a
// relayed registration (POST /relay, marked Idempotency-Key: the
// directory answers one registration once however often it comes).
//
// A bulk download from few peers is the exception (bulk.go): once more
// than two chunk requests are in flight to a peer (a crowd asks each of
// its peers for two at most) and 16 MiB of chunks came from it, its chunk
// requests go over HTTP/1.1 connections, one per request in flight,
// beside the pair's HTTP/2 one, which carries everything else. One
// HTTP/2 connection seals and opens every byte on one goroutine at each
// end, with two copies more; a GiB from one neighbour cost about a fifth
// more CPU that way. The client reads HTTP/2 frames of up to 256 KiB (a
// chunk in one DATA frame; net/http's client otherwise takes 16 KiB
// frames, each written by its own goroutine at the server).
//
// Peers fail closed: everything but hello is only for enrolled, unrevoked
// devices of this device's directory (Accounts, i.e. the directory's Whois,
// names their account). A key nobody enrolled, a revoked device, and a
// caller whose lookup failed get nothing, so a denied account cannot come
// back with a fresh key. Lookups are cached (enrolled: 5 min; not
// enrolled: 30 s; 4096 entries, least recently used dropped) and limited
// per caller address (IPv4 address or IPv6 /64: keys are free to make) and
// in total, so a peer rotating keys cannot spend the owner's directory
// quota (LookupLimits); devices the directory itself named to this one as
// suppliers of a content it downloads (Server.Expect) are looked up from
// a bucket of their own, so a crowd polling each other from the start is
// not refused while strangers' keys still meet the limits. The directory's
// suppliers answer names the account of the asker's own devices: those
// are kept as a lookup's answer (Server.KnownAccounts), so a household's
// devices calling each other cost no lookup. When the owner learns the
// directory no longer vouches for a device (share checks its neighbours),
// Server.Refuse refuses its calls at once (a Have poll of its held then
// ends, refused: a held poll is permitted again when answered, so a policy
// changed while it waited holds too; a chunk read for it since its permit
// is not sent), for 30 s against any answer older than the refusal (a
// lookup in flight, the suppliers answer's accounts), and Client.Revoke
// ends ours (a held poll of ours at once): a running download drops it as
// a source that refused us.
//
// A Node's peer port also answers plain HTTP: share/install looks at each
// connection's first byte (0x16, a TLS handshake, comes here; anything else
// gets the LAN install page). Nothing of this protocol is served in the clear.
//
// # Endpoints (all under /kith/v1)
//
//	GET  /hello               200 JSON {"device","name","directory","proto"}
//	GET  /offer               200 JSON {"offers":[{"content","title","name","artist",
//	                              "media_type","size","chunks","have","complete"}]}
//	                          only titles whose policy allows the caller;
//	                          403 when nothing is offered and the default policy excludes the caller
//	GET  /manifest/{cid}      200 the directory-signed manifest (sealed.Manifest.MarshalBinary)
//	GET  /have/{cid}          200 two bitmaps of ceil(chunks/8) bytes each: chunks held, then
//	                          chunks being fetched from the origin (bit i = byte i/8, bit i%8, LSB
//	                          first); headers Kith-Complete: true|false (every chunk held) and
//	                          Kith-Downloading: true|false (this device downloads it right now);
//	                          a poll with Kith-Have-Want (the chunks the poller lacks and does not
//	                          know we have: a bitmap of the same length, unpadded base64url) and
//	                          Kith-Have-Wait (milliseconds, 1 to 10 s) is held until we hold one of
//	                          them, hold all, or the wait runs out; Kith-Have-Holds: true on any
//	                          answer means the next poll may be held (at most 8 per poller and 512
//	                          in all; beyond, polls are answered at once and say nothing)
//	GET  /chunks/{cid}/{i}    200 ciphertext chunk i (exactly Manifest.ChunkRange(i) bytes), with
//	                          /have's state in headers: Kith-Complete, Kith-Downloading and, for a
//	                          partial holder whose bitmap is at most 1 KiB, Kith-Have-Bits (/have's
//	                          body in unpadded base64url; anything else there is misbehaving);
//	                          206 with a Range header (bytes within the chunk); 404 chunk not present
//	GET  /content/{cid}       200/206 byte ranges of the sealed file (Range); every chunk a range
//	                          touches must be present
//	POST /relay               body: license.SealedRegistration JSON (must be the caller's own, and the caller enrolled);
//	                          the server wraps it with license.Relay, forwards it to the directory
//	                          and answers 200 license.SealedReply JSON (the directory's
//	                          directory.RelayAnswer sealed to the caller and signed by the
//	                          directory: the relay can neither read nor alter it; it also carries the
//	                          directory's refusal of a registration it could open), or the directory's 4xx
//	                          JSON error, 502 if the directory is unreachable, 501 if this device
//	                          does not relay
//
// Status codes common to every endpoint: 400 malformed path or body; 401 no
// client certificate; 403 for content the server does not hold AND for
// content the caller may not copy AND for a caller that is not an enrolled
// device (the same answer, so an excluded device learns nothing about
// holdings); 503 with Retry-After when the caller cannot be checked with
// the directory (lookup failed or rate-limited), or when the upload limits
// are reached (plus Kith-Retry-After-Ms, the suggested wait in
// milliseconds, for peers): MaxUploadsPerPeer answers at once to one
// device, and the MaxUploads upload slots (DefaultMaxUploads, 8) that
// other accounts' devices share; the household's own devices are held to
// the first only. Slow readers are cut off by a write
// deadline; idle connections close after IdleTimeout.
//
// Text a peer sends for people (hello's name, an offer's name, artist and
// media type) is checked (bounded, UTF-8, no control characters: else the
// answer is misbehaving) and then made one plain line (oneline.Text: bidi
// controls and line separators become spaces), as the directory's catalog
// text is: sanitized, not refused, because older peers send what their
// library holds, and titles published before the directory refused bidi
// may hold a right-to-left mark.
//
// # Fetching
//
// A Fetcher keeps a few requests in flight per source (two each while it
// has eight usable peers or more), polls partial sources' /have bitmaps
// (patiently: over HTTP/1.1 a poll cut short closes its connection) except
// while they answer its chunk requests, whose answers carry the same state
// (HaveCarrier); a source that holds polls (HaveWaiter) is asked again as
// soon as it answers, to hold the poll until it has a chunk the download
// needs and is not fetching (FetchOptions.HaveWait; not beside a chunk
// request to it, which each round sends first, nor while every chunk the
// download lacks is being fetched: such a poll could only time out), so a crowd learns of
// a chunk when its peer gets it, not at the next poll round (polls every
// HaveInterval left an 8 MiB crowd of 10 idle half the time); asks each peer for the rarest chunk it can give
// (fewest of our peers hold it; ties onward from a random start, so a
// crowd spreads over the file) or from the chunk a player asked for
// (Prioritize), stores each chunk through a Sink that verifies it
// (library.WriteChunk), bans a source whose chunk fails verification or
// that breaks the protocol (wrong length), backs off and drops sources that
// error or time out, and asks a second source for a chunk that is taking
// too long. A client tries every address of its peer: one that presents
// another device's certificate is blamed (tried last for 10 minutes), not
// the peer, since anyone on the LAN can announce an address under a
// neighbour's name. A client may also reach its peer through a relay
// (ClientOptions.Relay: a spliced TCP stream, package directory/relay):
// tried after the addresses, or first when the directory listed the peer
// as relayed; the TLS over it is the same, so the supplier's checks and
// ledger treat a relayed asker like a direct one. A record that fails to
// decrypt over a relay blames the relay (ErrRelay; tried last for a
// minute), never the peer. When a direct connection to the peer opens (a
// hole punch the relay coordinated; the relay dialer returns it with a
// Direct method), RetireRelayed moves the client off the splice: each
// spliced connection closes once its current request ends, and a request
// that would start on one is retried by the transport on a new
// connection. Its decisions are share/peer/sched's
// (a pure core with the time passed in, also driven by internal/swarmsim);
// the fetcher passes the time of FetchOptions.Clock (internal/clock, the
// wall clock by default), on which its tick, request and poll timeouts run
// too, so steals, timeouts and back-offs are tested on a fake clock at
// their thresholds (clock_test.go).
//
// The origin is the supplier of last resort. It is asked only for chunks
// no peer holds or is fetching (peers advertise origin fetches in /have;
// peers whose first poll is unanswered may hold anything, but only until
// half of the peers have answered: a flash crowd does not wait for the
// slowest of its peers' first handshakes before the origin's chunks start
// to flow), and then only for (a) the chunks this device "owns" among the crowd
// downloading the content (rendezvous hashing of device ID and chunk
// index), so a crowd splits the origin's chunks instead of each taking
// them all; (b) any chunk once the download is starved: its reachable peers
// have had nothing it needs, and nothing in flight, for two Have-poll
// rounds (before that, peers dropped for errors are given another chance);
// (c) a chunk a player waits for (after OriginDelay/4). The crowd is this
// device, its peers that say they download the content (Kith-Downloading),
// and the devices given to SetCrowd, connected or not: a Node passes the
// directory's incomplete holders of the content (a weighted random sample
// of up to directory.MaxSuppliers; it connects to at most MaxPeers of
// them), and when an answer is full (the crowd may be bigger) those of
// the last few answers (sched.CrowdView): over one sample of 50 from a
// crowd of 200 each chunk had about four devices that thought they owned
// it, each asking the origin for it. A connected peer that says it is not downloading, or that was
// banned or dropped, takes no share. Without a crowd, a device nobody
// downloads from (Demand) leaves its share to those others download from;
// with a crowd it cannot (the others count it as an owner), so a Node
// connects back to the crowd members that poll it (Server.Pollers), even
// beyond MaxPeers, and a late arrival is not left with nobody taking from it;
// and one more peer a round to a download its peers have not fed (Unfed:
// none has a chunk it needs, however often the origin declined it).
// The origin itself super-seeds (directory.OriginBudget): a chunk it has
// handed to a device that still shares it is answered 503 origin_busy
// ("busy, ask your peers", with Retry-After) beyond a small repeat budget;
// the fetcher then leaves that chunk to its peers until the time named,
// and asks for no other chunk it does not own until it starves again.
// There are no fixed-delay fallbacks: a slow machine or a big crowd does
// not send a download to the origin while its peers bring it chunks.
//
// # Ledger
//
// Bytes served are added up per (peer, content) and written to the
// library's ledger every second; bytes fetched, per source, when a download
// ends. Each write records all its entries or none (library.RecordAll:
// one statement for up to 8, a transaction beyond); a flush that fails
// keeps its counts for the next.
//
// # Buffers
//
// Chunk bodies pass through buffers of one process-wide pool, shared by
// every fetcher and the server (chunks longer than the default size use
// their fetcher's own pool). A fetcher's request takes its buffer when the
// answer comes, not when it is sent, so requests waiting for answers hold
// none. On Linux the first 64 chunk buffers in use at once, and the first
// 64 buffers a chunk-wire answer's TLS records gather in (corkConn), and
// the first 64 its reads ahead go into, come from arenas in transparent
// huge pages (arena.go): a buffer's pages are touched once for the life
// of the process, in 2 MiB faults, instead of 64 faults of 4 KiB for each
// fresh buffer of the Go heap (about 1 ms of CPU on a virtual machine);
// they keep at most 16 MiB each resident.
package peer
