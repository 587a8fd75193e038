package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/internal/oneline"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// The peer API's calls as a Client makes them (hello, offer, manifest,
// have, chunks, relayed registration) and the fetcher's Sources over a
// Client or the directory's origin store; client.go holds the Client
// itself: dialing, its connections and how a request is sent.

func (c *Client) getJSON(ctx context.Context, path string, v any, limit int64) error {
	resp, err := c.get(ctx, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

// Hello asks the peer who it is.
func (c *Client) Hello(ctx context.Context) (*Hello, error) {
	var h Hello
	if err := c.getJSON(ctx, "/kith/v1/hello", &h, maxHelloBytes); err != nil {
		return nil, fmt.Errorf("hello to %s: %w", c.peer.Short(), err)
	}
	if h.Device != c.peer {
		return nil, fmt.Errorf("hello to %s: %w: says it is %s", c.peer.Short(), ErrMisbehaving, h.Device)
	}
	if err := checkPeerText("name", h.Name, maxHelloName); err != nil {
		return nil, fmt.Errorf("hello to %s: %w: %w", c.peer.Short(), ErrMisbehaving, err)
	}
	h.Name = oneline.Text(h.Name, maxHelloName) // shown as the neighbour's name: plain, as an offer's text (Offer.plain)
	if h.Directory != "" && !h.Directory.Valid() {
		return nil, fmt.Errorf("hello to %s: %w: directory %q is not a device id", c.peer.Short(), ErrMisbehaving, h.Directory)
	}
	return &h, nil
}

// Offer lists what the peer offers to us (403 when its owner excluded us).
// The answer is read one offer at a time and bounded (maxOfferBytes,
// MaxOffers, each offer checked): anything beyond is ErrMisbehaving.
func (c *Client) Offer(ctx context.Context) ([]Offer, error) {
	resp, err := c.get(ctx, "/kith/v1/offer", nil)
	if err != nil {
		return nil, fmt.Errorf("offer of %s: %w", c.peer.Short(), err)
	}
	defer resp.Body.Close()
	offers, err := decodeOffers(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("offer of %s: %w: %w", c.peer.Short(), ErrMisbehaving, err)
	}
	return offers, nil
}

// Manifest fetches the (directory-signed) manifest of cid; the caller
// checks the signature against the directory key. The content ID is checked here.
func (c *Client) Manifest(ctx context.Context, cid sealed.ContentID) (*sealed.Manifest, error) {
	resp, err := c.get(ctx, "/kith/v1/manifest/"+cid.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("manifest from %s: %w", c.peer.Short(), err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > maxManifestBytes {
		return nil, fmt.Errorf("manifest from %s: %w: %d bytes, more than %d", c.peer.Short(), ErrMisbehaving, resp.ContentLength, maxManifestBytes)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("manifest from %s: %w", c.peer.Short(), err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("manifest from %s: %w: more than %d bytes", c.peer.Short(), ErrMisbehaving, maxManifestBytes)
	}
	m, err := sealed.ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("manifest from %s: %w: %w", c.peer.Short(), ErrMisbehaving, err)
	}
	if m.ContentID() != cid {
		return nil, fmt.Errorf("manifest from %s: %w: content id %s", c.peer.Short(), ErrMisbehaving, m.ContentID())
	}
	return m, nil
}

// Have returns which chunks of cid (n chunks) the peer holds and which it
// is fetching from the origin, whether it is complete and whether it is
// downloading cid itself.
func (c *Client) Have(ctx context.Context, cid sealed.ContentID, n int) (HaveInfo, error) {
	return c.have(ctx, cid, n, nil)
}

// Chunk fetches ciphertext chunk i of m into dst (grown if needed). It
// insists on exactly the chunk's length: a longer or shorter declared
// body is ErrMisbehaving. It does not verify the hash (the fetcher does).
func (c *Client) Chunk(ctx context.Context, m *sealed.Manifest, i int, dst []byte) ([]byte, error) {
	return c.chunk(ctx, m, m.ContentID(), i, dst)
}

// chunk is Chunk with m's content ID computed by the caller: the ID hashes
// the whole manifest (32 bytes a chunk), so a download computing it for
// every chunk hashed 512 MiB of manifest per GiB fetched.
func (c *Client) chunk(ctx context.Context, m *sealed.Manifest, cid sealed.ContentID, i int, dst []byte) ([]byte, error) {
	b, _, err := c.chunkHave(ctx, m, cid, i, dst)
	return b, err
}

// chunkHave is chunk that also returns the peer's have state its answer
// carries (HaveBitsHeader; nil when it carries none: a peer before this
// header, a content of more than maxCarriedHave×8 chunks). A malformed
// state is ErrMisbehaving, as a malformed /have answer is.
func (c *Client) chunkHave(ctx context.Context, m *sealed.Manifest, cid sealed.ContentID, i int, dst []byte) ([]byte, *HaveInfo, error) {
	_, n := m.ChunkRange(i)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://kith-peer/kith/v1/chunks/"+cid.String()+"/"+strconv.Itoa(i), nil)
	if err != nil {
		return nil, nil, err
	}
	rt := c.roundTrip
	if b := c.bulk; b != nil {
		k := b.inflight.Add(1)
		defer b.inflight.Add(-1)
		if b.use(c, k, c.clk.Now()) {
			rt = func(req *http.Request) (*http.Response, error) { return b.roundTrip(c, req) }
		}
	}
	resp, err := c.doVia(req, rt)
	if err != nil {
		return nil, nil, fmt.Errorf("chunk %d from %s: %w", i, c.peer.Short(), err)
	}
	defer resp.Body.Close()
	hi, err := carriedHave(resp.Header, m.NumChunks())
	if err != nil {
		return nil, nil, fmt.Errorf("chunk %d from %s: %w: %w", i, c.peer.Short(), ErrMisbehaving, err)
	}
	data, err := readExact(resp, n, dst)
	if err != nil { // named only now: a chunk read whole formats no strings
		return nil, nil, fmt.Errorf("chunk %d from %s: %w", i, c.peer.Short(), err)
	}
	if c.bulk != nil {
		c.bulk.moved.Add(n)
	}
	return data, hi, nil
}

// carriedHave reads the have state a chunk answer carries for a content
// of n chunks (see HaveBitsHeader): nil without one; an error when it is
// not exactly what /have would answer (a completeness that is not "true"
// or "false", bitmaps of another length, bad base64).
func carriedHave(h http.Header, n int) (*HaveInfo, error) {
	complete := h.Get(HaveHeader)
	if complete == "" {
		return nil, nil
	}
	hi := &HaveInfo{Downloading: h.Get(DownloadingHeader) == "true"}
	switch complete {
	case "true":
		hi.Complete = true
		return hi, nil
	case "false":
	default:
		return nil, fmt.Errorf("%s %q", HaveHeader, complete)
	}
	want := len(library.NewBitmap(n))
	bits := h.Get(HaveBitsHeader)
	if len(bits) != base64.RawURLEncoding.EncodedLen(2*want) {
		return nil, fmt.Errorf("%s of %d characters, want %d", HaveBitsHeader, len(bits), base64.RawURLEncoding.EncodedLen(2*want))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(bits)
	if err != nil || len(b) != 2*want {
		return nil, fmt.Errorf("%s: not %d bytes of base64url: %v", HaveBitsHeader, 2*want, err)
	}
	hi.Have, hi.Fetching = library.Bitmap(b[:want]), library.Bitmap(b[want:])
	return hi, nil
}

// readExact reads a body that must be exactly n bytes.
func readExact(resp *http.Response, n int64, dst []byte) ([]byte, error) {
	if resp.ContentLength >= 0 && resp.ContentLength != n {
		return nil, fmt.Errorf("%w: length %d, want %d", ErrMisbehaving, resp.ContentLength, n)
	}
	dst, pooled := bodyBuf(dst, n)
	got, err := io.ReadFull(resp.Body, dst)
	if int64(got) == n && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		return dst[:n], nil
	}
	if pooled { // nobody else has seen it: back to the pool
		putChunkBuf(&dst)
	}
	switch {
	case int64(got) > n:
		return nil, fmt.Errorf("%w: more than %d bytes", ErrMisbehaving, n)
	case resp.ContentLength < 0 && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMisbehaving, got, n)
	default:
		return nil, fmt.Errorf("%d of %d bytes: %w", got, n, err)
	}
}

// Relay sends our sealed registration to the peer, which forwards it to the
// directory (flow 1); the answer, sealed to us and signed by the directory
// (directory.OpenRelayAnswer opens it), carries our license and receipt.
func (c *Client) Relay(ctx context.Context, r *license.SealedRegistration) (*license.SealedReply, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://kith-peer/kith/v1/relay", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	// Sent again if the connection closes before any answer: the peer
	// wraps it anew, and the directory answers the same registration
	// (its nonce) with the same receipt and license, never a second charge.
	sum := sha256.Sum256(body)
	req.Header.Set("Idempotency-Key", hex.EncodeToString(sum[:16]))
	resp, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("relaying registration via %s: %w", c.peer.Short(), err)
	}
	defer resp.Body.Close()
	var out license.SealedReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxRelayAnswer)).Decode(&out); err != nil {
		return nil, fmt.Errorf("relaying registration via %s: %w", c.peer.Short(), err)
	}
	return &out, nil
}

// Source adapts the client to the fetcher's Source for content m.
func (c *Client) Source(m *sealed.Manifest) Source {
	return &peerSource{c: c, m: m, cid: m.ContentID()}
}

type peerSource struct {
	c   *Client
	m   *sealed.Manifest
	cid sealed.ContentID // m.ContentID(), computed once
}

func (p *peerSource) ID() identity.ID { return p.c.peer }
func (p *peerSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	return p.c.chunk(ctx, p.m, p.cid, i, dst)
}
func (p *peerSource) ChunkHave(ctx context.Context, i int, dst []byte) ([]byte, *HaveInfo, error) {
	return p.c.chunkHave(ctx, p.m, p.cid, i, dst)
}
func (p *peerSource) Have(ctx context.Context) (HaveInfo, error) {
	return p.c.Have(ctx, p.cid, p.m.NumChunks())
}

// OriginSource adapts the directory's origin store to the fetcher's Source
// for content m. The fetcher uses it last.
func OriginSource(c *directory.Client, m *sealed.Manifest) Source {
	return &originSource{c: c, m: m, cid: m.ContentID()}
}

type originSource struct {
	c   *directory.Client
	m   *sealed.Manifest
	cid sealed.ContentID // m.ContentID(), computed once
}

func (o *originSource) ID() identity.ID { return o.c.Fingerprint() }
func (o *originSource) Origin() bool    { return true }
func (o *originSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	off, n := o.m.ChunkRange(i)
	rc, err := o.c.Origin(ctx, o.cid, off, n)
	if err != nil {
		return nil, fmt.Errorf("chunk %d from origin: %w", i, err)
	}
	defer rc.Close()
	dst, pooled := bodyBuf(dst, n)
	got, err := io.ReadFull(rc, dst)
	if int64(got) == n && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		return dst[:n], nil
	}
	if pooled {
		putChunkBuf(&dst)
	}
	if int64(got) > n {
		return nil, fmt.Errorf("chunk %d from origin: %w: more than %d bytes", i, ErrMisbehaving, n)
	}
	return nil, fmt.Errorf("chunk %d from origin: %d of %d bytes: %w", i, got, n, err)
}
