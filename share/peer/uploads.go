package peer

// Serving chunks: upload slots, the chunk handler and the upload ledger.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// slot is an upload acquire granted: to peer, and whether it took one of
// the MaxUploads the crowd shares (a household device's does not).
type slot struct {
	peer   identity.ID
	shared bool
}

// acquire takes an upload slot for peer, a device of account; false means
// busy (503 written). Every device is held to MaxUploadsPerPeer; only
// devices of other accounts share the MaxUploads slots: a household
// member playing a title from us is not answered busy because a crowd of
// strangers fills them.
func (s *Server) acquire(w http.ResponseWriter, peer identity.ID, account string) (slot, bool) {
	s.mu.Lock()
	if s.perPeer[peer] >= s.o.MaxUploadsPerPeer {
		s.mu.Unlock()
		busy(w)
		httpError(w, http.StatusServiceUnavailable, "too many uploads to this device")
		return slot{}, false
	}
	sl := slot{peer: peer, shared: account == "" || account != s.owner}
	if sl.shared {
		select {
		case s.total <- struct{}{}:
		default:
			s.mu.Unlock()
			busy(w)
			w.Header().Set(BusyHeader, "slots")
			httpError(w, http.StatusServiceUnavailable, "too many uploads")
			return slot{}, false
		}
	}
	s.perPeer[peer]++
	s.active++
	s.mu.Unlock()
	return sl, true
}

// RetryAfterMsHeader refines Retry-After (whole seconds) for peers: the
// suggested wait in milliseconds.
const RetryAfterMsHeader = "Kith-Retry-After-Ms"

// BusyHeader, "slots" on a 503, says the server's upload slots were full
// (DefaultMaxUploads: other devices fill its uplink), not the caller's
// own limit: a download that keeps meeting it takes one more peer
// (sched.Core.Contended).
const BusyHeader = "Kith-Busy"

func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set(RetryAfterMsHeader, "200")
}

// ended answers a request whose context ended — its caller went away
// (a reset stream, a chunk-wire cancel) or the server is stopping — with
// 503 and logs nothing: a failure for that is no server failure (issue
// 13), and a caller still there tries again. False while the request
// goes on.
func ended(w http.ResponseWriter, r *http.Request) bool {
	if r.Context().Err() == nil {
		return false
	}
	busy(w)
	httpError(w, http.StatusServiceUnavailable, "request ended")
	return true
}

// release gives back a slot acquire granted.
func (s *Server) release(sl slot) {
	s.mu.Lock()
	if sl.shared {
		<-s.total
	}
	s.active--
	if s.perPeer[sl.peer]--; s.perPeer[sl.peer] <= 0 {
		delete(s.perPeer, sl.peer)
	}
	s.mu.Unlock()
}

func (s *Server) uploaded(peer identity.ID, cid sealed.ContentID, n int64, start time.Time) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	if s.ledger == nil {
		s.ledger = map[ledgerKey]int64{}
	}
	s.ledger[ledgerKey{peer, cid}] += n
	s.mu.Unlock()
	if s.o.OnUpload != nil {
		s.o.OnUpload(Upload{Peer: peer, ContentID: cid, Bytes: n, Duration: s.o.Now().Sub(start)})
	}
	if s.o.holdUpload != nil {
		s.o.holdUpload()
	}
}

type ledgerKey struct {
	peer identity.ID
	cid  sealed.ContentID
}

// FlushLedger writes the uploads counted since the last flush to the
// library's ledger (Serve does it every second and on shutdown).
func (s *Server) FlushLedger() error {
	s.mu.Lock()
	pending := s.ledger
	s.ledger = nil
	s.mu.Unlock()
	ds := make([]library.LedgerDelta, 0, len(pending))
	for k, n := range pending {
		ds = append(ds, library.LedgerDelta{Peer: k.peer, ContentID: k.cid, Direction: library.Up, Bytes: n})
	}
	if err := s.o.Library.RecordAll(context.Background(), ds); err != nil {
		// Nothing was recorded: count it again at the next flush.
		s.mu.Lock()
		if s.ledger == nil {
			s.ledger = map[ledgerKey]int64{}
		}
		for k, n := range pending {
			s.ledger[k] += n
		}
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *Server) handleChunk(w http.ResponseWriter, r *http.Request) {
	peer, acct, cid, ok := s.permit(w, r)
	if !ok {
		return
	}
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil || i < 0 {
		httpError(w, http.StatusBadRequest, "bad chunk index")
		return
	}
	sl, ok := s.acquire(w, peer, acct)
	if !ok {
		return
	}
	defer s.release(sl)
	start := s.o.Now()
	buf := getChunkBuf(sealed.DefaultChunkSize + sealed.Overhead)
	defer func() { putChunkBuf(buf) }()
	b, err := s.o.Library.ReadChunk(r.Context(), cid, i, *buf, s.o.VerifyUploads)
	if err != nil {
		if errors.Is(err, library.ErrNotPresent) || errors.Is(err, library.ErrNotFound) {
			httpError(w, http.StatusNotFound, "chunk not present")
			return
		}
		if ended(w, r) {
			return
		}
		s.log.Error("peer: reading chunk", "content", cid, "chunk", i, "err", err)
		httpError(w, http.StatusInternalServerError, "internal error")
		return
	}
	if cap(b) != cap(*buf) {
		// ReadChunk read into a buffer of its own (a chunk longer
		// than ours): ours goes back now, unused.
		putChunkBuf(buf)
		buf = nil
	}
	if testHookChunkRead != nil {
		testHookChunkRead(s, peer)
	}
	if s.accts.refused(peer) {
		// Refused (Refuse) since its permit, while the chunk was read and
		// checked: not one byte of it goes out. An answer already being
		// written finishes: it is at most one chunk per upload slot
		// (MaxUploadsPerPeer), sealed, sent within WriteTimeout, and
		// cutting it would mean closing a connection that may carry our
		// own requests too (WireProto2).
		forbidden(w)
		return
	}
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.o.WriteTimeout))
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.Header.Get("Range") != "" {
		cw := &countWriter{ResponseWriter: w}
		http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(b))
		s.uploaded(peer, cid, cw.n, start)
		if cw.err != nil {
			buf = nil // see below
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	s.carryHave(w, r, peer, cid)
	n, err := w.Write(b)
	s.uploaded(peer, cid, int64(n), start)
	if err != nil {
		// The buffer goes to the garbage collector, not the pool: over
		// HTTP/2 a Write the client's reset cut short returns while the
		// frame writer may still be copying from it (net/http's
		// writeDataFromHandler, errStreamClosed), and the pool is shared
		// with every fetcher of the process.
		buf = nil
	}
}

type countWriter struct {
	http.ResponseWriter
	n   int64
	err error // the first Write error
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// testHookChunkRead, if set (tests only), runs in handleChunk once the
// chunk has been read, before its answer is written.
var testHookChunkRead func(s *Server, peer identity.ID)
