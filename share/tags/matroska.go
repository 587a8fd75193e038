package tags

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Matroska/WebM element IDs read (with their length-marker bits).
const (
	mkvEBML          = 0x1A45DFA3
	mkvSegment       = 0x18538067
	mkvInfo          = 0x1549A966
	mkvTimecodeScale = 0x2AD7B1
	mkvDuration      = 0x4489
	mkvTracks        = 0x1654AE6B
	mkvTrackEntry    = 0xAE
	mkvTrackType     = 0x83
	mkvVideo         = 0xE0
	mkvPixelWidth    = 0xB0
	mkvPixelHeight   = 0xBA
	mkvDisplayWidth  = 0x54B0
	mkvDisplayHeight = 0x54BA
	mkvDisplayUnit   = 0x54B2
	mkvCluster       = 0x1F43B675
)

// maxElements bounds the elements looked at on one level of a Matroska file.
const maxElements = 1024

var errStop = errors.New("stop")

// mkvVint reads an EBML variable-length integer at off: its value (an ID
// keeps its length marker), its length, and whether it is a size of all
// ones (unknown).
func mkvVint(r *budgetReader, off int64, id bool) (uint64, int, bool, error) {
	var b [8]byte
	if err := r.readAt(b[:1], off); err != nil {
		return 0, 0, false, err
	}
	n := 1
	for mask := byte(0x80); n <= 8 && b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 || (id && n > 4) {
		return 0, 0, false, errors.New("matroska: bad variable-length integer")
	}
	if err := r.readAt(b[1:n], off+1); err != nil {
		return 0, 0, false, err
	}
	v := uint64(b[0])
	if !id {
		v &= 0xff >> n
	}
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	unknown := !id && v == 1<<(7*n)-1
	return v, n, unknown, nil
}

// mkvWalk calls fn for each element in [off, end): its ID and payload
// range; an element of unknown size runs to end. fn returning errStop ends
// the walk without error.
func mkvWalk(r *budgetReader, off, end int64, fn func(id uint64, off, end int64) error) error {
	for i := 0; off < end; i++ {
		if i == maxElements {
			return errors.New("matroska: too many elements")
		}
		id, n, _, err := mkvVint(r, off, true)
		if err != nil {
			return fmt.Errorf("matroska: %w", err)
		}
		size, m, unknown, err := mkvVint(r, off+int64(n), false)
		if err != nil {
			return fmt.Errorf("matroska: %w", err)
		}
		start := off + int64(n+m)
		stop := end
		if !unknown {
			if size > uint64(end-start) {
				return fmt.Errorf("matroska: element %x of bad size %d", id, size)
			}
			stop = start + int64(size)
		}
		if err := fn(id, start, stop); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
		off = stop
	}
	return nil
}

// mkvUint reads an unsigned integer element's payload.
func mkvUint(r *budgetReader, off, end int64) (uint64, error) {
	if end-off > 8 {
		return 0, errors.New("matroska: integer over 8 bytes")
	}
	var b [8]byte
	if err := r.readAt(b[8-(end-off):], off); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// mkvHeaders reads a Matroska/WebM file's duration (Info's Duration times
// TimecodeScale) and its first video track's display size, from the
// elements before the first Cluster.
func mkvHeaders(r *budgetReader) (d time.Duration, w, h int, derr, serr error) {
	derr, serr = errNoDuration, errNoVideo
	err := mkvWalk(r, 0, r.size, func(id uint64, off, end int64) error {
		if id != mkvSegment {
			return nil
		}
		return mkvWalk(r, off, end, func(id uint64, off, end int64) error {
			switch id {
			case mkvInfo:
				d, derr = mkvDurationOf(r, off, end)
			case mkvTracks:
				if serr == errNoVideo {
					w, h, serr = mkvVideoSize(r, off, end)
				}
			case mkvCluster:
				return errStop
			}
			return nil
		})
	})
	if err != nil {
		if derr == errNoDuration {
			derr = err
		}
		if serr == errNoVideo {
			serr = err
		}
	}
	return d, w, h, derr, serr
}

func mkvDurationOf(r *budgetReader, off, end int64) (time.Duration, error) {
	scale, dur := uint64(1_000_000), -1.0
	err := mkvWalk(r, off, end, func(id uint64, off, end int64) error {
		switch id {
		case mkvTimecodeScale:
			v, err := mkvUint(r, off, end)
			scale = v
			return err
		case mkvDuration:
			var b [8]byte
			switch end - off {
			case 4:
				if err := r.readAt(b[:4], off); err != nil {
					return err
				}
				dur = float64(math.Float32frombits(binary.BigEndian.Uint32(b[:4])))
			case 8:
				if err := r.readAt(b[:], off); err != nil {
					return err
				}
				dur = math.Float64frombits(binary.BigEndian.Uint64(b[:]))
			default:
				return errors.New("matroska: Duration not 4 or 8 bytes")
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return 0, err
	case dur < 0 || math.IsNaN(dur):
		return 0, errNoDuration
	case scale == 0 || dur*float64(scale) > float64(MaxDuration):
		return 0, fmt.Errorf("matroska: duration %g × %d ns out of range", dur, scale)
	}
	return time.Duration(dur * float64(scale)), nil
}

// mkvVideoSize is the display size of the first video track in Tracks.
func mkvVideoSize(r *budgetReader, off, end int64) (int, int, error) {
	w, h, found := 0, 0, false
	err := mkvWalk(r, off, end, func(id uint64, off, end int64) error {
		if id != mkvTrackEntry {
			return nil
		}
		var typ uint64
		var pw, ph, dw, dh, unit uint64
		err := mkvWalk(r, off, end, func(id uint64, off, end int64) error {
			switch id {
			case mkvTrackType:
				v, err := mkvUint(r, off, end)
				typ = v
				return err
			case mkvVideo:
				return mkvWalk(r, off, end, func(id uint64, off, end int64) error {
					var dst *uint64
					switch id {
					case mkvPixelWidth:
						dst = &pw
					case mkvPixelHeight:
						dst = &ph
					case mkvDisplayWidth:
						dst = &dw
					case mkvDisplayHeight:
						dst = &dh
					case mkvDisplayUnit:
						dst = &unit
					default:
						return nil
					}
					v, err := mkvUint(r, off, end)
					*dst = v
					return err
				})
			}
			return nil
		})
		if err != nil || typ != 1 {
			return err
		}
		switch {
		case dw == 0 || dh == 0:
		case unit == 0: // display size in pixels
			pw, ph = dw, dh
		case unit == 3 && dw <= MaxDimension && dh <= MaxDimension && ph <= MaxDimension:
			// display aspect ratio (ffmpeg writes this for non-square pixels)
			pw = (ph*dw + dh/2) / dh
		}
		if pw == 0 || ph == 0 || pw > MaxDimension || ph > MaxDimension {
			return fmt.Errorf("matroska: video size %d×%d out of range", pw, ph)
		}
		w, h, found = int(pw), int(ph), true
		return errStop
	})
	switch {
	case err != nil:
		return 0, 0, err
	case !found:
		return 0, 0, errNoVideo
	}
	return w, h, nil
}
