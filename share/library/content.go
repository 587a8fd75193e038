package library

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/kith-media/kith/internal/atomicfile"
	"github.com/kith-media/kith/share/sealed"
)

// item is the in-memory state of one sealed file.
type item struct {
	cid sealed.ContentID
	m   *sealed.Manifest
	raw []byte // signed manifest bytes

	syncMu sync.Mutex // serializes fsync + index updates + rename

	mu           sync.Mutex
	f            *os.File
	complete     bool
	have         Bitmap // present in the file (may not be durable yet)
	nhave        int
	pending      []int // written, not yet fsynced
	pendingBytes int64
	lastSync     time.Time
	wbLo, wbHi   int64         // the span of the chunks written since the last writeback started (WritebackBatch)
	wbBytes      int64         // their bytes
	notify       chan struct{} // closed and replaced when a chunk arrives
}

func (it *item) close() error {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.f == nil {
		return nil
	}
	err := it.f.Close()
	it.f = nil
	return err
}

// AddManifest records a (signed) manifest and prepares a partial file for it,
// unless the library already has this content. It is idempotent.
func (l *Library) AddManifest(ctx context.Context, m *sealed.Manifest) error {
	raw, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("adding manifest: %w", err)
	}
	cid := m.ContentID()
	if l.holdsManifest(cid, raw) {
		// Already recorded as given (a download adds the manifest it
		// fetched, then again the one it reads back): no write.
		return nil
	}
	n := m.NumChunks()
	res, err := l.w.ExecContext(ctx, `INSERT INTO content(content_id, manifest, num_chunks, file_size, bitmap, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(content_id) DO NOTHING`,
		cid.String(), raw, n, m.FileSize(), []byte(NewBitmap(n)), l.now())
	l.heldChanged()
	if err != nil {
		return fmt.Errorf("adding manifest %s: %w", cid, err)
	}
	k, _ := res.RowsAffected()
	if k == 0 && len(m.Signature) > 0 {
		// Keep the signed copy if we only had an unsigned one.
		if _, err := l.w.ExecContext(ctx, `UPDATE content SET manifest = ? WHERE content_id = ?`, raw, cid.String()); err != nil {
			return fmt.Errorf("updating manifest %s: %w", cid, err)
		}
		l.mu.Lock()
		if it := l.items[cid]; it != nil {
			it.mu.Lock()
			it.raw = raw
			it.mu.Unlock()
		}
		l.mu.Unlock()
	}
	_, err = l.item(ctx, cid)
	var ns *NoSpaceError
	if k == 1 && errors.As(err, &ns) {
		// Refused for want of space before anything was fetched: the
		// library stays as it was, so a retry after freeing space starts
		// clean and no listing shows a download that never began.
		if _, derr := l.w.ExecContext(context.WithoutCancel(ctx), `DELETE FROM content WHERE content_id = ? AND have = 0`, cid.String()); derr != nil {
			l.log.Warn("library: removing a download refused for space", "content", cid, "err", derr)
		}
		l.heldChanged()
	}
	return err
}

// holdsManifest reports whether cid is loaded with exactly the manifest
// bytes raw.
func (l *Library) holdsManifest(cid sealed.ContentID, raw []byte) bool {
	it := l.loaded(cid)
	if it == nil {
		return false
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	return bytes.Equal(it.raw, raw)
}

// loaded is cid's item if it is loaded (in use), without loading it.
func (l *Library) loaded(cid sealed.ContentID) *item {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.items[cid]
}

// Manifest returns the stored manifest of cid.
func (l *Library) Manifest(ctx context.Context, cid sealed.ContentID) (*sealed.Manifest, error) {
	it, err := l.item(ctx, cid)
	if err != nil {
		return nil, err
	}
	return it.m, nil
}

// ManifestBytes returns the stored manifest of cid as signed bytes (MarshalBinary form).
func (l *Library) ManifestBytes(ctx context.Context, cid sealed.ContentID) ([]byte, error) {
	it, err := l.item(ctx, cid)
	if err != nil {
		return nil, err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.raw, nil
}

// load is one content being loaded; others asking for it wait on done.
type load struct {
	done chan struct{}
	it   *item
	err  error
}

// item returns the loaded state of cid, loading it from the index (and
// re-verifying a partial file's chunks) on first use. The library's lock
// is not held while loading: a long re-hash of one title stalls only the
// callers that want that title.
func (l *Library) item(ctx context.Context, cid sealed.ContentID) (*item, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if it := l.items[cid]; it != nil {
		l.mu.Unlock()
		return it, nil
	}
	if ld := l.loading[cid]; ld != nil {
		l.mu.Unlock()
		select {
		case <-ld.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if ld.err != nil && ctx.Err() == nil && (errors.Is(ld.err, context.Canceled) || errors.Is(ld.err, context.DeadlineExceeded)) {
			return l.item(ctx, cid) // the loader gave up, not us: load again
		}
		return ld.it, ld.err
	}
	ld := &load{done: make(chan struct{})}
	l.loading[cid] = ld
	l.loads.Add(1)
	l.mu.Unlock()
	defer l.loads.Done()
	it, err := l.loadItem(ctx, cid)
	l.mu.Lock()
	delete(l.loading, cid)
	if err == nil && l.closed {
		it.close()
		it, err = nil, ErrClosed
	}
	if err == nil {
		l.items[cid] = it
	}
	l.mu.Unlock()
	ld.it, ld.err = it, err
	close(ld.done)
	return it, err
}

// loadItem reads cid's state from the index and opens its file.
func (l *Library) loadItem(ctx context.Context, cid sealed.ContentID) (*item, error) {
	var raw, bits []byte
	var complete bool
	var have int
	err := l.w.QueryRowContext(ctx, `SELECT manifest, bitmap, complete, have FROM content WHERE content_id = ?`, cid.String()).Scan(&raw, &bits, &complete, &have)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("content %s: %w", cid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("loading content %s: %w", cid, err)
	}
	m, err := sealed.ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("loading manifest %s: %w", cid, err)
	}
	n := m.NumChunks()
	it := &item{cid: cid, m: m, raw: raw, have: Bitmap(bits), notify: make(chan struct{}), lastSync: l.opts.Now()}
	if len(it.have) != len(NewBitmap(n)) {
		it.have = NewBitmap(n)
	}
	if complete {
		f, err := os.OpenFile(l.sealedPath(cid), os.O_RDWR, 0)
		if err == nil {
			it.f, it.complete = f, true
			for i := 0; i < n; i++ {
				it.have.Set(i)
			}
			it.nhave = n
			return it, nil
		}
		l.log.Warn("library: sealed file missing; downloading again", "content", cid, "err", err)
		it.have = NewBitmap(n)
	}
	// The row as AddManifest makes it for a new download: nothing held.
	unheld := !complete && have == 0 && len(bits) == len(NewBitmap(n)) && Bitmap(bits).Count(n) == 0
	if err := l.openPart(ctx, it, unheld); err != nil {
		return nil, err
	}
	return it, nil
}

// openPart opens (creating and preallocating if needed) the .part
// file and re-hashes the chunks the index says are present, so a chunk
// damaged on disk (or never made durable) is fetched again.
// The item is not shared yet, so nothing else touches it meanwhile.
func (l *Library) openPart(ctx context.Context, it *item, unheld bool) error {
	path := l.partPath(it.cid)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening partial file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening partial file: %w", err)
	}
	fresh := st.Size() != it.m.FileSize()
	if fresh { // a file of another size holds nothing of this download
		if err := f.Truncate(0); err != nil {
			f.Close()
			return fmt.Errorf("preallocating %s: %w", path, err)
		}
		it.have = NewBitmap(it.m.NumChunks())
	}
	// A new download's space is taken before a byte is fetched: a full disk
	// is a NoSpaceError now, not a chunk's write failing after peers spent
	// their uploads on it. A resumed file (sparse if an older version made
	// it) has its holes filled where the disk allows; where it does not,
	// the chunks it holds are still served and the write that meets the
	// full disk tells the rest, as before.
	if err := reserve(f, it.m.FileSize()); err != nil {
		var ns *NoSpaceError
		switch {
		case fresh:
			f.Close()
			os.Remove(path) // nothing of the download was in it
			if errors.As(err, &ns) {
				return err
			}
			return fmt.Errorf("preallocating %s: %w", path, err)
		case errors.As(err, &ns):
			l.log.Warn("library: a resumed download cannot reserve its space", "content", it.cid, "err", err)
		default:
			f.Close()
			return fmt.Errorf("preallocating %s: %w", path, err)
		}
	}
	// The header is written at every open, new file or not, and made
	// durable by the fsync that precedes any chunk's bit (flushLocked, or
	// the re-hash's below): a crash that kept the file's size but lost its
	// header leaves no bit recorded, and the next open writes it again. A
	// download therefore starts without an fsync of its own (1.9 ms median,
	// 9.6 ms p90 on a busy VM, before the first request to a peer).
	if _, err := f.WriteAt(it.m.HeaderBytes(), 0); err != nil {
		f.Close()
		return fmt.Errorf("writing header of %s: %w", path, err)
	}
	it.f = f
	var bad []int
	if !fresh { // a new file holds nothing yet; an old one is re-checked
		bad, err = l.rehash(ctx, it)
		if err == nil {
			err = f.Sync() // chunks recovered by the re-hash become durable before their bits
		}
	}
	if err != nil {
		f.Close()
		it.f = nil
		return fmt.Errorf("resuming %s: %w", it.cid, err)
	}
	if len(bad) > 0 {
		l.log.Warn("library: damaged chunks on disk will be fetched again", "content", it.cid, "chunks", len(bad))
	}
	// A new file of a content whose row records nothing held (a new
	// download: AddManifest just wrote it) has nothing to record.
	if !fresh || !unheld {
		_, err := l.w.ExecContext(ctx, `UPDATE content SET bitmap = ?, have = ?, complete = 0, updated_at = ? WHERE content_id = ?`,
			[]byte(it.have), it.nhave, l.now(), it.cid.String())
		l.heldChanged()
		if err != nil {
			return fmt.Errorf("recording bitmap of %s: %w", it.cid, err)
		}
	}
	if it.nhave == it.m.NumChunks() {
		return l.flush(it) // complete before the crash: seal it now
	}
	return nil
}

// rehash checks every chunk of a partial file against its manifest:
// recorded chunks that fail are cleared (bad), and chunks written before a
// crash but never recorded are recovered. It recounts nhave.
// It runs before the item is shared (openPart).
func (l *Library) rehash(ctx context.Context, it *item) (bad []int, err error) {
	n := it.m.NumChunks()
	var buf []byte
	it.nhave = 0
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		off, size := it.m.ChunkRange(i)
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := it.f.ReadAt(buf, off); err != nil || it.m.VerifyChunk(i, buf) != nil {
			if it.have.Has(i) {
				bad = append(bad, i)
			}
			it.have.Clear(i)
			continue
		}
		it.have.Set(i)
		it.nhave++
	}
	return bad, nil
}

// WriteChunk verifies ciphertext chunk i of cid against the manifest and
// writes it into the partial file. The chunk is readable at once; its bit is
// recorded in the index only after an fsync (batched by Options.SyncBytes
// and SyncInterval, or forced by Flush). When every chunk is durable the
// file is renamed to <cid>.sealed.
func (l *Library) WriteChunk(cid sealed.ContentID, i int, ct []byte) error {
	it, err := l.item(context.Background(), cid)
	if err != nil {
		return fmt.Errorf("writing chunk %d: %w", i, err)
	}
	if i < 0 || i >= it.m.NumChunks() {
		return fmt.Errorf("writing chunk %d of %s: index out of range", i, cid)
	}
	if err := it.m.VerifyChunk(i, ct); err != nil {
		return fmt.Errorf("writing chunk %d of %s: %w: %w", i, cid, ErrBadChunk, err)
	}
	it.mu.Lock()
	if it.have.Has(i) || it.f == nil {
		closed := it.f == nil
		it.mu.Unlock()
		if closed {
			return fmt.Errorf("writing chunk %d of %s: %w", i, cid, ErrClosed)
		}
		return nil
	}
	f := it.f
	it.mu.Unlock()
	off, _ := it.m.ChunkRange(i)
	if _, err := f.WriteAt(ct, off); err != nil {
		it.mu.Lock()
		dup := it.have.Has(i)
		it.mu.Unlock()
		if dup && errors.Is(err, os.ErrClosed) {
			return nil // another writer stored chunk i, and the file was sealed (seal)
		}
		return fmt.Errorf("writing chunk %d of %s: %w", i, cid, err)
	}
	it.mu.Lock()
	if !it.have.Has(i) {
		it.have.Set(i)
		it.nhave++
		it.pending = append(it.pending, i)
		it.pendingBytes += int64(len(ct))
		close(it.notify)
		it.notify = make(chan struct{})
	}
	last := it.nhave == it.m.NumChunks()
	need := it.pendingBytes >= l.opts.SyncBytes || l.opts.Now().Sub(it.lastSync) >= l.opts.SyncInterval
	wbOff, wbLen := it.written(off, int64(len(ct)), last)
	it.mu.Unlock()
	// The batch's writeback starts now rather than at its fsync (after
	// the chunk is readable and counted: a congested disk may make this
	// wait); a failure (a file system without it, a file sealed
	// meanwhile) only leaves it to the fsync.
	if wbLen > 0 {
		_ = startWriteback(f, wbOff, wbLen)
	}
	switch {
	case last:
		return l.flush(it)
	case need && it.syncMu.TryLock():
		// A batch is due and nobody is syncing: this writer does it. If a
		// sync is running, the chunk waits for the next batch instead of
		// queueing writers behind fsync.
		return l.flushLocked(it)
	}
	return nil
}

// startWriteback starts the writeback of a span of a file (a variable so
// that a test can see the spans).
var startWriteback = writeback

// WritebackBatch is how many bytes of a download's chunks are written
// before their writeback is started (one sync_file_range over the span
// they lie in), not each chunk's on its own. A call costs the kernel's
// block allocation and I/O submission for its range whatever its size: on
// the development machine (ext4 on a virtual disk) the calls cost 0.15-0.17
// ns of CPU a byte written at one per 256 KiB chunk, 0.05-0.08 at one per
// MiB, against ~0.15-0.2 for the copy into the page cache itself. The fsync
// that makes a download durable then waits for its last MiB at most,
// besides what the disk has not written yet. Bigger batches cost more, not
// less (BenchmarkWriteChunks write_ns/B, 3 rounds alternated at load 3:
// 1 MiB 0.299/0.306/0.302, 2 MiB 0.315/0.314/0.329, 4 MiB 0.325/0.328/0.343):
// the fsync at the end writes back the rest in one go. Exported for the
// flash crowd's disk term (share's storeBound), which does what this does.
const WritebackBatch = 1 << 20

// written notes chunk [off, off+n) as written (it.mu held) and returns
// the span whose writeback to start now: none until the chunks written
// since the last one hold WritebackBatch bytes, or when the fsync that
// follows the last chunk writes them back anyway. Chunks come in any
// order: the span covers them all, and the holes in it (chunks not yet
// written, or already written back) cost the kernel nothing.
func (it *item) written(off, n int64, last bool) (int64, int64) {
	if it.wbBytes == 0 {
		it.wbLo, it.wbHi = off, off+n
	}
	it.wbLo, it.wbHi = min(it.wbLo, off), max(it.wbHi, off+n)
	it.wbBytes += n
	if last || it.wbBytes < WritebackBatch {
		return 0, 0
	}
	it.wbBytes = 0
	return it.wbLo, it.wbHi - it.wbLo
}

// Flush makes every chunk written so far durable and records it in the index.
func (l *Library) Flush(cid sealed.ContentID) error {
	it, err := l.item(context.Background(), cid)
	if err != nil {
		return err
	}
	return l.flush(it)
}

func (l *Library) flush(it *item) error {
	it.syncMu.Lock()
	return l.flushLocked(it)
}

// flushLocked is flush with it.syncMu held; it unlocks it.
func (l *Library) flushLocked(it *item) error {
	defer it.syncMu.Unlock()
	it.mu.Lock()
	f := it.f
	pending := len(it.pending)
	it.pending, it.pendingBytes = nil, 0
	it.wbBytes = 0 // the fsync writes them back
	it.lastSync = l.opts.Now()
	done := !it.complete && it.nhave == it.m.NumChunks()
	it.mu.Unlock()
	if f == nil || (pending == 0 && !done) {
		return nil
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", it.cid, err)
	}
	it.mu.Lock()
	bits := append(Bitmap(nil), it.have...)
	nhave := it.nhave
	it.mu.Unlock()
	// The bitmap may include chunks written after our Sync started; only
	// record what was pending before it (conservative: re-read them).
	// Simplest correct rule: a chunk in it.have that was added after we took
	// the pending list is still in it.pending; clear those bits.
	it.mu.Lock()
	for _, j := range it.pending {
		bits.Clear(j)
		nhave--
	}
	it.mu.Unlock()
	ctx := context.Background()
	if done {
		if err := l.moveFile(it, f, l.partPath(it.cid), l.sealedPath(it.cid)); err != nil {
			return fmt.Errorf("sealing %s: %w", it.cid, err)
		}
		if err := atomicfile.SyncDir(l.content); err != nil {
			return fmt.Errorf("sealing %s: %w", it.cid, err)
		}
		it.mu.Lock()
		it.complete = true
		it.mu.Unlock()
	}
	// HeldContent's list is kept (no heldChanged): it shows a loaded
	// content's have and complete from memory (live), and a content stays
	// loaded until RemoveContent, which drops the list. A download flushes
	// every SyncInterval, as often as a heartbeat asks for the list.
	if _, err := l.w.ExecContext(ctx, `UPDATE content SET bitmap = ?, have = ?, complete = ?, updated_at = ? WHERE content_id = ?`,
		[]byte(bits), nhave, done, l.now(), it.cid.String()); err != nil {
		return fmt.Errorf("recording bitmap of %s: %w", it.cid, err)
	}
	return nil
}

// moveFile renames its file from one name to the other (.part to .sealed
// when complete, back when a chunk of a sealed file is found damaged). The
// file is closed for the rename and opened again under its new name (it.mu
// held throughout, so no chunk is read or written on it meanwhile but by a
// reader or writer that took f before: its call either ends before the
// close or gets os.ErrClosed, and readChunk reads again on the new handle),
// because Windows refuses to rename a file that is open (Go opens files
// without FILE_SHARE_DELETE: "sharing violation"). f is it.f as the caller
// took it; an item closed since is only renamed.
func (l *Library) moveFile(it *item, f *os.File, from, to string) error {
	it.mu.Lock()
	defer it.mu.Unlock()
	open := f != nil && it.f == f
	if open {
		it.f = nil
		if err := f.Close(); err != nil {
			return err
		}
	}
	if err := os.Rename(from, to); err != nil {
		if open { // keep using the file under its old name
			if nf, oerr := os.OpenFile(from, os.O_RDWR, 0); oerr == nil {
				it.f = nf
			}
		}
		return err
	}
	if open {
		nf, err := os.OpenFile(to, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("opening %s again: %w", to, err)
		}
		it.f = nf
	}
	return nil
}
