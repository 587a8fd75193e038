package sched

// Bitmap is a set of chunk indices, bit i = byte i/8, bit i%8, LSB first
// (the layout of library.Bitmap and of the peer protocol's /have).
type Bitmap []byte

// NewBitmap returns an empty bitmap for n chunks.
func NewBitmap(n int) Bitmap { return make(Bitmap, (n+7)/8) }

// Has reports whether i is in the set (false when out of range).
func (b Bitmap) Has(i int) bool { return i >= 0 && i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0 }

// Set adds i.
func (b Bitmap) Set(i int) { b[i/8] |= 1 << (i % 8) }

// Clear removes i.
func (b Bitmap) Clear(i int) { b[i/8] &^= 1 << (i % 8) }
