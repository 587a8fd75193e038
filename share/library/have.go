package library

import (
	"context"

	"github.com/kith-media/kith/share/sealed"
)

// Bitmap has bit i set when chunk i is present: bit i is byte i/8, bit i%8
// (least significant first).
type Bitmap []byte

// NewBitmap returns an empty bitmap for n chunks.
func NewBitmap(n int) Bitmap { return make(Bitmap, (n+7)/8) }

// Has reports whether bit i is set.
func (b Bitmap) Has(i int) bool { return i >= 0 && i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0 }

// Set sets bit i.
func (b Bitmap) Set(i int) { b[i/8] |= 1 << (i % 8) }

// Clear clears bit i.
func (b Bitmap) Clear(i int) { b[i/8] &^= 1 << (i % 8) }

// Count is the number of set bits among the first n.
func (b Bitmap) Count(n int) int {
	c := 0
	for i := 0; i < n; i++ {
		if b.Has(i) {
			c++
		}
	}
	return c
}

// Status describes how much of a sealed file the library holds.
type Status struct {
	ContentID sealed.ContentID
	Have      int   // chunks present
	Total     int   // chunks in the manifest
	Size      int64 // sealed file size
	Complete  bool
}

// Status reports how much of cid is present.
func (l *Library) Status(ctx context.Context, cid sealed.ContentID) (Status, error) {
	it, err := l.item(ctx, cid)
	if err != nil {
		return Status{}, err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	return Status{ContentID: cid, Have: it.nhave, Total: it.m.NumChunks(), Size: it.m.FileSize(), Complete: it.complete}, nil
}

// Have returns a copy of the bitmap of chunks present in cid.
func (l *Library) Have(ctx context.Context, cid sealed.ContentID) (Bitmap, error) {
	it, err := l.item(ctx, cid)
	if err != nil {
		return nil, err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	return append(Bitmap(nil), it.have...), nil
}

// Watch returns a copy of the bitmap of chunks present in cid and a
// channel closed when the next chunk arrives (call Watch again then): a
// peer server holds a Have poll on it until the poller's wanted chunks
// come.
func (l *Library) Watch(ctx context.Context, cid sealed.ContentID) (Bitmap, <-chan struct{}, error) {
	it, err := l.item(ctx, cid)
	if err != nil {
		return nil, nil, err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	return append(Bitmap(nil), it.have...), it.notify, nil
}
