package peer

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// handleContent serves byte ranges of the sealed file; every chunk a range
// touches must be present.
func (s *Server) handleContent(w http.ResponseWriter, r *http.Request) {
	peer, cid, ok := s.permit(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	m, err := s.o.Library.Manifest(ctx, cid)
	if err != nil {
		forbidden(w)
		return
	}
	if !s.acquire(w, peer) {
		return
	}
	defer s.release(peer)
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
