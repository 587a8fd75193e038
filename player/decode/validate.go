package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits on header structures that third-party decoders allocate in one
// piece: without them a few hostile bytes ask for gigabytes.
const (
	maxWAVHeaderChunk = 1 << 20
	maxID3Tag         = 32 << 20
)

// checkID3 rejects an ID3v2 tag whose size is malformed (not syncsafe),
// larger than the media, or larger than maxID3Tag.
func checkID3(head []byte, size int64) error {
	if len(head) < 10 || string(head[:3]) != "ID3" {
		return nil
	}
	for _, b := range head[6:10] {
		if b&0x80 != 0 {
			return errors.New("malformed ID3 tag size")
		}
	}
	n := int64(id3Size(head))
	if n > maxID3Tag || (size > 0 && n > size) {
		return fmt.Errorf("ID3 tag of %d bytes is too large", n)
	}
	return nil
}

// checkWAV walks the RIFF chunks before "data" and rejects chunks that are
// oversized or run past the media, then rewinds r.
func checkWAV(r io.ReadSeeker, size int64) error {
	defer r.Seek(0, io.SeekStart)
	if _, err := r.Seek(12, io.SeekStart); err != nil {
		return err
	}
	off := int64(12)
	for i := 0; i < 64; i++ {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("reading RIFF chunk header: %w", err)
		}
		off += 8
		n := int64(binary.LittleEndian.Uint32(h[4:]))
		if string(h[:4]) == "data" {
			return nil
		}
		if n > maxWAVHeaderChunk || (size > 0 && off+n > size) {
			return fmt.Errorf("RIFF chunk %q of %d bytes is too large", h[:4], n)
		}
		if _, err := r.Seek(n, io.SeekCurrent); err != nil {
			return err
		}
		off += n
	}
	return errors.New("too many RIFF chunks before data")
}
