package peer

import "github.com/kith-media/kith/directory/license"

// Bounds on what the client reads from a peer: every answer is hostile
// until checked, so each is capped in bytes before decoding and in items
// while decoding.
const (
	// MaxOffers caps the titles of one /offer answer.
	MaxOffers = 4096
	// maxOfferBytes caps an /offer answer. MaxOffers entries of ~250 bytes
	// (a typical title) fit; a server with longer names sends fewer
	// (encodeOffers). The decoder's buffer doubles up to the size of the
	// largest value, so a hostile answer costs about 4x this in allocations.
	maxOfferBytes = 1 << 20
	// maxOfferFields caps the top-level fields of an /offer answer (one is
	// used; the rest are a newer peer's, skipped).
	maxOfferFields = 16
	// maxOfferText caps each text field of an offer.
	maxOfferText = 512
	// maxResponseHeader caps the header of any answer (HTTP/1.1 and HTTP/2).
	maxResponseHeader = 64 << 10
	// maxFrame is the largest HTTP/2 frame the client accepts: a chunk
	// (sealed.DefaultChunkSize) in one DATA frame. It is also the read
	// buffer each HTTP/2 connection keeps.
	maxFrame = 256 << 10
	// maxHelloBytes caps a /hello answer.
	maxHelloBytes = 4 << 10
	// maxHelloName caps the device name in hello.
	maxHelloName = 256
	// maxManifestBytes caps a /manifest answer (a manifest is a header and
	// one hash per chunk: 32 bytes per 256 KiB chunk is 8 MiB for a 64 GiB file).
	maxManifestBytes = 8 << 20
	// maxRelayAnswer caps a /relay answer (a license.SealedReply in JSON).
	maxRelayAnswer = 2*license.MaxReplySize + 4<<10
)
