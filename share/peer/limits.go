package peer

import "github.com/kith-media/kith/directory/license"

// Bounds on what the client reads from a peer: every answer is hostile
// until checked, so each is capped in bytes before decoding and in items
// while decoding.
const (
	// MaxOffers caps the titles of one /offer answer.
	MaxOffers = 4096
	// maxOfferBytes caps an /offer answer: MaxOffers entries of the longest
	// honest form (names, artists and IDs at their limits) fit easily.
	maxOfferBytes = 4 << 20
	// maxOfferText caps each text field of an offer.
	maxOfferText = 512
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
