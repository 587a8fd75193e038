// Package share is one device in the Kith network: a Node wires the
// device's identity, its library (share/library), its peer server and
// multi-source fetcher (share/peer), its LAN presence (share/lan) and its
// directory client into the three flows of the design:
//
//  1. RegisterVia: relayed registration through a neighbour, which forwards
//     our sealed registration to the directory and hands back our license;
//  2. Buy/Register then Fetch: directory-coupled download from the ranked
//     suppliers the directory names (origin last);
//  3. Fetch from a neighbour without a license (superdistribution), GetKey later.
//
// The directory's side of them (licenses, relayed registration, keys) is
// flows.go; getting the bytes (manifest, suppliers, the fetch and its
// resupply rounds, repair) is download.go.
//
// # One live handle per title
//
// Node.Title(cid) is the single live *Title of a content on this device. It
// owns the content's running download (its peer.Fetcher, progress, error
// and subscribers) and opens its readers; Node.Fetch and Node.Open are
// shorthands for it. The app reads a download's state from the handle
// (Downloading, Progress, Err, Subscribe) and keeps no copy of it.
//
// Play while downloading, for a title a LAN neighbour holds and this device
// does not (six packages, one priority route):
//
//	app/wire     Library.Fetch → Title.Start(neighbour): the download runs on the node
//	share        Title.Fetch: manifest (directory or neighbour), peer.Fetcher over the
//	             neighbour's peer.Client source, writing into the library
//	app/wire     Player.Play → player.Player.Play(cid)
//	share/playback  Source.Open → Title.Open: license opened in memory, a sealed.Reader
//	             over the library's waiting chunk source, steered by the handle
//	share/sealed Reader.Read → ChunkSource.ReadChunk(i): the handle makes chunk i the
//	             fetcher's priority (Fetcher.Prioritize: i and after first) when the
//	             reader moves to it, then the library waits for the chunk
//	player       decodes and plays; a read waiting longer than BufferingAfter shows
//	             StateBuffering
//
// Where the reader is, is the only priority signal: there is no separate
// prefetch hook in the player and no callback in the library.
//
// # Whom a download connects to
//
// A directory-coupled download connects to MaxPeers of the suppliers
// (sched.Peers: 4 for a small title), chosen so that a crowd's picks are
// mutual: one connection carries a pair's requests both ways
// (peer.WireProto2), one mutual TLS handshake per pair, so a crowd whose
// devices take k peers opens about k/2 connections a device. Every device
// ranks a pair alike (pairRank: SHA-256 of the content and both IDs);
// from an answer that lists the whole crowd each device computes the
// same pair graph (matchFirst: pairs in pairKey order, at most k at each
// end) and connects to its pairs first, the smaller ID dialling while the
// other waits for it (pairYield); from a sample of a bigger crowd (each
// asker is answered its own) no two devices compute the same graph, so a
// download dials only half its k from the first of its pairOrder
// (pairs.Sampled) and takes as sources the devices that dialled it, over
// their connections, though no answer of its own lists them
// (adoptDialled: a peer.Client with no address); dialling k from each
// sample opened 3.8 connections a device at N=200. A forming crowd's answers differ
// (each lists the downloads announced before the asker), so from a
// directory that says the order of arrival (directory.Supplier.Arrival,
// the suppliers answer's v2) the graph is built in that order instead
// (arrivalPairs): each download picks half its peers among those before
// it that have room, lowest pairKey first, and every device replays the
// same picks from its first answer, without asking again or waiting; a
// download dials its picks and adopts the later ones that pick it (they
// dial it), and dials no other download unless its pairs failed it
// (arrivalorder.go); in resupply rounds, once the crowd is known, the
// last arrivals, left below k pairs (nobody after them picks them), pair
// among themselves too (arrivalFilled: the same second pass at every
// device). Resupply rounds (every 5 s) add new suppliers while there is
// room, connect back to crowd members that poll us over the connection
// they dialled (in a crowd bigger than the directory's answer, between
// rounds too: the device the origin gave a first copy to may be polled by
// nobody else), and give a download its peers have not fed for a second
// (none has a chunk it needs: peer.Fetcher.Unfed) a round at once, and
// one more peer a round, up to twice MaxPeers: mutual picks can close a
// group of devices on itself, and the origin answers a group without a
// first copy "busy, ask your peers" (peerorder.go, download.go). A download
// whose peers have answered busy four times since its last round for their
// upload slots being full (others share their uplinks:
// peer.Fetcher.Contended) gets a round at once and one more peer the same
// way; a crowd of one account's devices, which no slots hold, never does.
// The graphs and orders themselves are package share/pairs' (pure
// decisions over peer IDs), which the crowd simulator (internal/swarmsim)
// runs too.
//
// # Services
//
// Serve runs the peer server, a heartbeat that announces holdings and
// policies to the directory every AnnounceInterval (and after each change;
// the directory keeps the last announcement it receives, so one answered
// after a newer one is followed by another at once: sendAnnouncement),
// and mDNS announce/browse; on shutdown the node waits for its downloads
// and withdraws from the directory. The peer port also answers browsers: a
// Demux (share/install) sends TLS connections to the peer server and plain
// HTTP to the install page, which offers the packaged app from
// Options.InstallDir, or one made from the running program
// (Options.InstallSelf). The mDNS announcer and the install page are optional:
// they run under internal/supervise, so a failure (no multicast-capable
// interface) is reported by Services and Options.OnService and retried with
// backoff, and never ends the node. A device found by mDNS is listed (and
// dialled by downloads) only once the directory vouches for it, enrolled
// and not revoked, and while it keeps doing so when asked again every
// Options.NeighbourCheckInterval (lanneighbours.go): an announcement is a
// claim anyone on the LAN can make. Where mDNS finds nobody (a router that
// drops multicast) a neighbour is added by its address (AddNeighbour): it
// must prove its key and be enrolled with the directory, and is kept in the
// library (handneighbours.go) while the directory, asked again every
// Options.NeighbourCheckInterval, still vouches for it. When the directory answers a
// heartbeat that it could not reach this device and offers a relay, the
// node keeps a control connection to that relay (package directory/relay)
// and serves the askers it splices through the same peer server (so its
// restrictions and ledger apply unchanged), announcing the relay once
// connected; it leaves the relay when the directory reaches it directly
// again. Downloads reach a supplier the directory lists as relayed
// through the relay, with a ticket from the directory, before its
// addresses: the first connection is the relay's splice, at once, while
// the relay coordinates a hole punch in the background; when the punch
// opens a direct connection the spliced connections retire after their
// current request (peer.Client.RetireRelayed) and the download moves to
// it, and later connections to that device punch first. A failed punch
// (a symmetric NAT) leaves the splice carrying everything, and is not
// tried again for 10 minutes. The wire protocol between devices is
// documented in share/peer, the on-disk layout in share/library.
//
// # Adding a device's own files
//
// AddFile (AddFiles for many, a few at a time) reads the tags, seals the
// file into the library with a fresh content key and publishes it. The same
// path with the same size and modification time, or the same bytes from
// another path, give the title added before: the bytes are found by a
// fingerprint of the size and both ends of the file and confirmed by a
// byte comparison (dedupe.go), so a new file is read once, by the sealer,
// and never hashed whole.
//
// # Directory and account at run time
//
// A Node is built once per process. A device that pairs with its
// directory later gets it with SetDirectory (once; another directory is a
// restart): the heartbeat, LAN presence and relay start then, and until
// then the peer server answers nobody but hello. The account changes with
// SetAccount (sign-in, switch) and LeaveAccount (sign-out: the device
// leaves the account at the directory, POST /v1/devices/leave, so it can
// enroll under another). The peer server's household rules follow at
// once; a stored license is used only if issued to this device under the
// current account; a signed-out node announces nothing.
package share
