package tags

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxDimension is the largest video width or height Read reports; a
// larger one (or a video track without one) leaves Width and Height 0.
const MaxDimension = 16384

// maxTracks is the most trak boxes of an MP4 looked at for the video.
const maxTracks = 16

var errNoVideo = errors.New("no video track")

// mp4Resolution is the display width×height of the first video track
// (handler "vide") of an MP4: its tkhd's width and height, 16.16 fixed
// point, rounded down.
func mp4Resolution(r *budgetReader) (int, int, error) {
	moov, moovEnd, err := mp4Find(r, 0, r.size, "moov")
	if err != nil {
		return 0, 0, err
	}
	off := moov
	for i := 0; i < maxTracks; i++ {
		trak, trakEnd, err := mp4Find(r, off, moovEnd, "trak")
		if err != nil {
			break // no more tracks
		}
		off = trakEnd
		if !mp4IsVideo(r, trak, trakEnd) {
			continue
		}
		tkhd, tkhdEnd, err := mp4Find(r, trak, trakEnd, "tkhd")
		if err != nil {
			return 0, 0, err
		}
		// The width and height are the box's last 8 bytes in both
		// versions (84 bytes of payload in version 0, 96 in version 1).
		var v [1]byte
		if err := r.readAt(v[:], tkhd); err != nil {
			return 0, 0, fmt.Errorf("mp4 tkhd: %w", err)
		}
		want := int64(84)
		if v[0] == 1 {
			want = 96
		}
		if tkhdEnd-tkhd < want {
			return 0, 0, errors.New("mp4: short tkhd")
		}
		var b [8]byte
		if err := r.readAt(b[:], tkhd+want-8); err != nil {
			return 0, 0, fmt.Errorf("mp4 tkhd: %w", err)
		}
		w, h := int(binary.BigEndian.Uint32(b[:4])>>16), int(binary.BigEndian.Uint32(b[4:])>>16)
		if w <= 0 || h <= 0 || w > MaxDimension || h > MaxDimension {
			return 0, 0, fmt.Errorf("mp4: video size %d×%d out of range", w, h)
		}
		return w, h, nil
	}
	return 0, 0, errNoVideo
}

// mp4IsVideo says whether the trak box's payload [off, end) has a video
// handler (mdia/hdlr of type "vide").
func mp4IsVideo(r *budgetReader, off, end int64) bool {
	mdia, mdiaEnd, err := mp4Find(r, off, end, "mdia")
	if err != nil {
		return false
	}
	hdlr, hdlrEnd, err := mp4Find(r, mdia, mdiaEnd, "hdlr")
	if err != nil || hdlrEnd-hdlr < 12 {
		return false
	}
	var b [12]byte // version and flags, pre_defined, handler_type
	return r.readAt(b[:], hdlr) == nil && string(b[8:12]) == "vide"
}
