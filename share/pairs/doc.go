// Package pairs is whom a download of a crowd connects to: the pair
// graphs every device of a crowd computes alike from the directory's
// suppliers answer (Match over a whole listed crowd, Arrival over the
// order of arrival the v2 answer carries; Filled adds a second pass
// pairing the downloads left below k), the order of the rest
// (Order: a rank both ends of a pair compute alike), and which pairs a
// download dials at its start (First, from what the answer says: Start
// from the order of arrival, Sampled from a sample of a bigger crowd,
// Match's pairs first from a whole one) or adopts later (Later), and
// which of a resupply round's suppliers it connects to (Round reads the
// round's answer into a Room and says whom to adopt; Room: room, pollers
// called back, the hungry rule's one peer beyond the room).
//
// The functions decide only; share.Node dials and adopts (share's
// download.go and arrivalorder.go say when), and internal/swarmsim runs
// the same decisions over a simulated crowd. They work on any peer type:
// the caller says how to read a peer's device ID and whether it is close
// (a LAN neighbour or one added by hand: kept in front, in its order,
// and never counted as a download to pair with by Match).
package pairs
