package tags

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxRIFFChunks bounds the chunks walked in a WAV file.
const maxRIFFChunks = 1024

// riffChunks calls fn with the payload range of each chunk of a RIFF/WAVE
// file. Sizes are clamped to the file: a "data" chunk that claims more
// (streamed WAVs write 0xFFFFFFFF) ends at the end of the file.
func riffChunks(r *budgetReader, fn func(id string, off, size int64) error) error {
	var h [12]byte
	if err := r.readAt(h[:], 0); err != nil {
		return err
	}
	if string(h[:4]) != "RIFF" || string(h[8:12]) != "WAVE" {
		return errors.New("not RIFF/WAVE")
	}
	off := int64(12)
	for i := 0; off+8 <= r.size; i++ {
		if i == maxRIFFChunks {
			return errors.New("too many chunks")
		}
		var c [8]byte
		if err := r.readAt(c[:], off); err != nil {
			return err
		}
		size := int64(binary.LittleEndian.Uint32(c[4:8]))
		size = min(size, r.size-off-8)
		if err := fn(string(c[:4]), off+8, size); err != nil {
			return err
		}
		off += 8 + size + size&1
	}
	return nil
}

// maxInfoBytes bounds a LIST/INFO chunk read into memory.
const maxInfoBytes = 64 << 10

// readRIFF reads the LIST/INFO tags of a WAV file.
func readRIFF(r io.ReaderAt, size int64, in *Info, o Options) {
	br := newBudgetReader(r, size, o.MaxTagBytes, time.Now().Add(o.Timeout))
	err := riffChunks(br, func(id string, off, n int64) error {
		if id != "LIST" || n < 4 {
			return nil
		}
		if n > maxInfoBytes {
			in.problem("wav: LIST chunk of %d bytes ignored", n)
			return nil
		}
		b := make([]byte, n)
		if err := br.readAt(b, off); err != nil {
			return err
		}
		if string(b[:4]) != "INFO" {
			return nil
		}
		b = b[4:]
		for len(b) >= 8 {
			id, sz := string(b[:4]), int(binary.LittleEndian.Uint32(b[4:8]))
			if sz > len(b)-8 {
				sz = len(b) - 8
			}
			v := cleanText(string(b[8 : 8+sz]))
			switch id {
			case "INAM":
				in.Title = v
			case "IART":
				in.Artist = v
			case "IPRD":
				in.Album = v
			case "IGNR", "GENR":
				in.Genre = v
			case "ICRD":
				if len(v) >= 4 {
					if y, err := strconv.Atoi(v[:4]); err == nil && y > 0 && y <= 9999 {
						in.Year = y
					}
				}
			case "ITRK", "IPRT", "TRCK":
				t, _, _ := strings.Cut(v, "/")
				if n, err := strconv.Atoi(strings.TrimSpace(t)); err == nil {
					in.Track = clampNum(n, 9999)
				}
			}
			b = b[min(len(b), 8+sz+sz&1):]
		}
		in.TagFormat = "RIFF INFO"
		return nil
	})
	if err != nil {
		in.problem("wav: %v", err)
	}
}
