package peer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// Hello is the answer of GET /kith/v1/hello.
type Hello struct {
	Device    identity.ID `json:"device"`
	Name      string      `json:"name"`
	Directory identity.ID `json:"directory"`
	Proto     int         `json:"proto"`
}

func (s *Server) handleHello(w http.ResponseWriter, r *http.Request) {
	if _, err := caller(r); err != nil {
		httpError(w, http.StatusUnauthorized, "client certificate required")
		return
	}
	s.mu.Lock()
	fp := s.o.Directory
	s.mu.Unlock()
	writeJSON(w, Hello{Device: s.o.Identity.ID(), Name: cleanText(s.o.Name, maxHelloName), Directory: fp, Proto: ProtoVersion})
}

// Offer is one title a device offers to the caller.
type Offer struct {
	Content   sealed.ContentID `json:"content"`
	TitleID   string           `json:"title,omitempty"`
	Name      string           `json:"name,omitempty"`
	Artist    string           `json:"artist,omitempty"`
	MediaType string           `json:"media_type,omitempty"`
	Size      int64            `json:"size"`     // sealed file size
	Chunks    int              `json:"chunks"`   // chunks in the manifest
	Have      int              `json:"have"`     // chunks held
	Complete  bool             `json:"complete"` // every chunk held
}

// enrolled returns the verified caller and its account. Peers fail
// closed: a caller that is not an enrolled, unrevoked device of this
// directory gets 403 (the answer for "not allowed"), one whose lookup
// failed or was rate-limited 503 with Retry-After; ok is false then and
// the answer has been written.
func (s *Server) enrolled(w http.ResponseWriter, r *http.Request) (peer identity.ID, account string, ok bool) {
	peer, err := caller(r)
	if err != nil {
		httpError(w, http.StatusUnauthorized, "client certificate required")
		return "", "", false
	}
	account, err = s.accts.account(r.Context(), peer, r.RemoteAddr)
	switch {
	case err == nil:
		return peer, account, true
	case errors.Is(err, ErrNotEnrolled):
		s.log.Debug("peer: refusing a device that is not enrolled", "device", peer, "addr", r.RemoteAddr, "err", err)
		forbidden(w)
	case errors.Is(err, errLookupLimited):
		s.log.Debug("peer: device lookups limited", "device", peer, "addr", r.RemoteAddr)
		w.Header().Set("Retry-After", "15")
		httpError(w, http.StatusServiceUnavailable, "too many unknown devices; retry later")
	default:
		s.log.Warn("peer: looking up a device failed", "device", peer, "err", err)
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "cannot check this device with the directory; retry later")
	}
	return "", "", false
}

func (s *Server) allows(p library.Policy, peer identity.ID, account string) bool {
	s.mu.Lock()
	owner := s.owner
	s.mu.Unlock()
	return directory.Policy(p).Allows(owner, peer, account)
}

func (s *Server) handleOffer(w http.ResponseWriter, r *http.Request) {
	peer, acct, ok := s.enrolled(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	pols, err := s.o.Library.Policies(ctx)
	if err != nil {
		if ended(w, r) {
			return
		}
		s.log.Error("peer: offer", "err", err)
		httpError(w, http.StatusInternalServerError, "internal error")
		return
	}
	def, ok := pols[""]
	if !ok {
		def = library.DefaultPolicy
	}
	held, err := s.o.Library.HeldContent(ctx)
	if err != nil {
		if ended(w, r) {
			return
		}
		s.log.Error("peer: offer", "err", err)
		httpError(w, http.StatusInternalServerError, "internal error")
		return
	}
	offers := []Offer{}
	for _, h := range held {
		if h.Have == 0 {
			continue
		}
		base := Offer{Content: h.ContentID, Size: h.Size, Chunks: h.Total, Have: h.Have, Complete: h.Complete}
		if len(h.Titles) == 0 {
			if s.allows(def, peer, acct) {
				offers = append(offers, base)
			}
			continue
		}
		for _, t := range h.Titles {
			p, ok := pols[t.ID]
			if !ok {
				p = def
			}
			if !s.allows(p, peer, acct) {
				continue
			}
			o := base
			o.TitleID, o.Name, o.Artist, o.MediaType = cleanText(t.ID, maxOfferText), cleanText(t.Name, maxOfferText),
				cleanText(t.Artist, maxOfferText), cleanText(t.MediaType, maxOfferText)
			offers = append(offers, o)
		}
	}
	if len(offers) == 0 && !s.allows(def, peer, acct) {
		forbidden(w)
		return
	}
	b, dropped := encodeOffers(offers)
	if dropped > 0 {
		s.log.Warn("peer: offer cut to what a client accepts", "offers", len(offers), "dropped", dropped)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// permit resolves {cid} and checks the caller may copy it; on false the
// answer (400 or 403) has been written.
func (s *Server) permit(w http.ResponseWriter, r *http.Request) (peer identity.ID, account string, cid sealed.ContentID, ok bool) {
	cid, err := sealed.ParseContentID(r.PathValue("cid"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad content id")
		return "", "", cid, false
	}
	peer, account, ok = s.enrolled(w, r)
	if !ok {
		return "", "", cid, false
	}
	ctx := r.Context()
	// Known content counts as held even before its first chunk arrives (a
	// crowd downloading together polls each other from the start).
	if _, err := s.o.Library.Status(ctx, cid); err != nil {
		forbidden(w)
		return "", "", cid, false
	}
	p, err := s.o.Library.ContentPolicy(ctx, cid)
	if err != nil || !s.allows(p, peer, account) {
		forbidden(w)
		return "", "", cid, false
	}
	return peer, account, cid, true
}

func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request) {
	_, _, cid, ok := s.permit(w, r)
	if !ok {
		return
	}
	b, err := s.o.Library.ManifestBytes(r.Context(), cid)
	if err != nil {
		forbidden(w)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// Response headers of /have (and of chunk answers that carry the state).
const (
	HaveHeader        = "Kith-Complete"    // "true" when every chunk is held
	DownloadingHeader = "Kith-Downloading" // "true" while this device downloads the content itself
	// HaveBitsHeader, on a chunk answer of a partial holder, is its /have
	// body (the have bitmap, then the fetching bitmap) in unpadded
	// base64url: the requester learns what the peer gained since its last
	// poll without asking, and polls it no more while it serves it.
	HaveBitsHeader = "Kith-Have-Bits"
)

// maxCarriedHave is the longest have bitmap a chunk answer carries
// (8,192 chunks, 2 GiB at the default chunk size: about 2.7 KiB of header);
// the holders of longer contents are polled, as every holder was before.
const maxCarriedHave = 1 << 10

// haveState is what /have answers about cid, and notes that peer asked
// (LastPolled, Pollers).
func (s *Server) haveState(ctx context.Context, peer identity.ID, cid sealed.ContentID) (have, fetching library.Bitmap, complete, downloading bool, err error) {
	s.notePoll(peer, cid)
	have, err1 := s.o.Library.Have(ctx, cid)
	st, err2 := s.o.Library.Status(ctx, cid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, false, false, err
	}
	if s.o.Fetching != nil {
		fetching = s.o.Fetching(cid)
	}
	if len(fetching) != len(have) {
		fetching = make(library.Bitmap, len(have))
	}
	return have, fetching, st.Complete, s.o.Downloading != nil && s.o.Downloading(cid), nil
}

// notePoll notes that peer asked for our state of cid now (LastPolled, Pollers).
func (s *Server) notePoll(peer identity.ID, cid sealed.ContentID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.polled == nil || len(s.polled) > 10000 {
		s.polled = map[sealed.ContentID]time.Time{}
	}
	if s.pollers == nil || len(s.pollers) > 10000 {
		s.pollers = map[pollKey]time.Time{}
	}
	s.polled[cid] = s.o.Now()
	s.pollers[pollKey{cid, peer}] = s.o.Now()
}

func (s *Server) handleHave(w http.ResponseWriter, r *http.Request) {
	peer, _, cid, ok := s.permit(w, r)
	if !ok {
		return
	}
	st, err := s.o.Library.Status(r.Context(), cid)
	if err != nil {
		forbidden(w)
		return
	}
	want, wait, err := haveWait(r.Header, st.Total)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if want != nil {
		s.notePoll(peer, cid) // a poller while it waits (Pollers, LastPolled)
		// Asked again after a wait of up to MaxHaveWait: the caller may have
		// been refused (Refuse), or the title's policy changed, meanwhile.
		if s.awaitWanted(r.Context(), peer, cid, want, wait) {
			if _, _, _, ok := s.permit(w, r); !ok {
				return
			}
		}
	}
	if s.canHold(peer) {
		w.Header().Set(HaveHoldsHeader, "true")
	}
	have, fetching, complete, downloading, err := s.haveState(r.Context(), peer, cid)
	if err != nil {
		forbidden(w)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(HaveHeader, strconv.FormatBool(complete))
	w.Header().Set(DownloadingHeader, strconv.FormatBool(downloading))
	w.Header().Set("Content-Length", strconv.Itoa(len(have)+len(fetching)))
	w.Write(have)
	w.Write(fetching)
}

// carryHave sets the headers that give a chunk answer our /have state
// (HaveBitsHeader): a complete holder says so, a partial one sends its
// bitmaps while they fit in maxCarriedHave.
func (s *Server) carryHave(w http.ResponseWriter, r *http.Request, peer identity.ID, cid sealed.ContentID) {
	have, fetching, complete, downloading, err := s.haveState(r.Context(), peer, cid)
	if err != nil || (!complete && len(have) > maxCarriedHave) {
		return
	}
	h := w.Header()
	h.Set(HaveHeader, strconv.FormatBool(complete))
	h.Set(DownloadingHeader, strconv.FormatBool(downloading))
	if !complete {
		h.Set(HaveBitsHeader, base64.RawURLEncoding.EncodeToString(append(have, fetching...)))
	}
}

// handleContent serves byte ranges of the sealed file; every chunk a range
// touches must be present.
func (s *Server) handleContent(w http.ResponseWriter, r *http.Request) {
	peer, acct, cid, ok := s.permit(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	m, err := s.o.Library.Manifest(ctx, cid)
	if err != nil {
		forbidden(w)
		return
	}
	sl, ok := s.acquire(w, peer, acct)
	if !ok {
		return
	}
	defer s.release(sl)
	start := s.o.Now()
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.o.WriteTimeout))
	w.Header().Set("Content-Type", "application/octet-stream")
	cw := &countWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, &contentReader{ctx: ctx, l: s.o.Library, m: m, cid: cid})
	s.uploaded(peer, cid, cw.n, start)
}

// contentReader is an io.ReadSeeker over the present chunks of a sealed file.
type contentReader struct {
	ctx context.Context
	l   *library.Library
	m   *sealed.Manifest
	cid sealed.ContentID
	off int64
	buf []byte
}

func (c *contentReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += c.off
	case io.SeekEnd:
		off += c.m.FileSize()
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	c.off = off
	return off, nil
}

func (c *contentReader) Read(p []byte) (int, error) {
	size := c.m.FileSize()
	if c.off >= size {
		return 0, io.EOF
	}
	hdr := c.m.HeaderBytes()
	if c.off < int64(len(hdr)) {
		n := copy(p, hdr[c.off:])
		c.off += int64(n)
		return n, nil
	}
	i := chunkAt(c.m, c.off)
	b, err := c.l.ReadChunk(c.ctx, c.cid, i, c.buf, false)
	if err != nil {
		return 0, err
	}
	c.buf = b
	coff, _ := c.m.ChunkRange(i)
	n := copy(p, b[c.off-coff:])
	c.off += int64(n)
	return n, nil
}

// chunkAt is the index of the chunk holding byte off of the sealed file.
func chunkAt(m *sealed.Manifest, off int64) int {
	lo, hi := 0, m.NumChunks()-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if o, _ := m.ChunkRange(mid); o <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func (s *Server) handleRelay(w http.ResponseWriter, r *http.Request) {
	if s.o.Relayer == nil {
		if _, err := caller(r); err != nil {
			httpError(w, http.StatusUnauthorized, "client certificate required")
			return
		}
		httpError(w, http.StatusNotImplemented, "this device does not relay registrations")
		return
	}
	// Only enrolled devices: the directory would refuse anybody else's
	// registration anyway, and each relay is a request on our quota.
	peer, _, ok := s.enrolled(w, r)
	if !ok {
		return
	}
	var reg license.SealedRegistration
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reg); err != nil {
		httpError(w, http.StatusBadRequest, "bad registration: "+err.Error())
		return
	}
	if reg.Device != peer {
		httpError(w, http.StatusBadRequest, "registration is not from the calling device")
		return
	}
	rel := license.Relay(&reg, s.o.Identity, s.o.Now())
	out, err := s.o.Relayer.Relay(r.Context(), rel)
	if err != nil {
		var de *directory.Error
		if errors.As(err, &de) && de.Status >= 400 && de.Status < 500 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(de.Status)
			json.NewEncoder(w).Encode(de)
			return
		}
		if ended(w, r) {
			return
		}
		s.log.Warn("peer: relaying registration", "from", peer, "err", err)
		httpError(w, http.StatusBadGateway, "directory unreachable: "+err.Error())
		return
	}
	writeJSON(w, out)
}
