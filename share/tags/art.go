package tags

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // covers are JPEG or PNG
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"
)

// coverNames are the files beside a track taken as its album's cover, in
// order of preference (compared case-insensitively).
var coverNames = []string{"cover.jpg", "cover.jpeg", "cover.png", "folder.jpg", "folder.jpeg", "folder.png", "front.jpg", "front.png", "albumart.jpg"}

// maxDirEntries bounds the directory listing searched for a cover.
const maxDirEntries = 4096

// coverBeside looks for a cover file in the directory of path.
func coverBeside(path string, in *Info, o Options) {
	o.defaults()
	dir := filepath.Dir(path)
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(maxDirEntries)
	d.Close()
	have := make(map[string]string, 4)
	for _, n := range names {
		l := strings.ToLower(n)
		for _, c := range coverNames {
			if l == c {
				have[c] = n
			}
		}
	}
	for _, c := range coverNames {
		n, ok := have[c]
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		st, err := f.Stat()
		if err == nil && st.Mode().IsRegular() {
			var thumb []byte
			thumb, err = thumbnail(f, st.Size(), o)
			if err == nil {
				in.Artwork, in.ArtworkSource = thumb, n
				f.Close()
				return
			}
		}
		f.Close()
		in.problem("cover %s: %v", n, err)
	}
}

// thumbnail decodes a picture of size bytes (bounded by MaxArtBytes and
// MaxArtPixels before decoding) and re-encodes it as a JPEG of at most
// ThumbSize pixels a side.
func thumbnail(r io.Reader, size int64, o Options) ([]byte, error) {
	o.defaults()
	if size > o.MaxArtBytes {
		return nil, fmt.Errorf("picture of %d bytes is over the %d limit", size, o.MaxArtBytes)
	}
	b, err := io.ReadAll(io.LimitReader(r, o.MaxArtBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > o.MaxArtBytes {
		return nil, errors.New("picture over the size limit")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("picture: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxArtPixels {
		return nil, fmt.Errorf("picture of %dx%d pixels refused", cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("picture: %w", err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if w <= 0 || h <= 0 {
		return nil, errors.New("empty picture")
	}
	tw, th := w, h
	if max(w, h) > o.ThumbSize {
		if w >= h {
			tw, th = o.ThumbSize, max(1, h*o.ThumbSize/w)
		} else {
			tw, th = max(1, w*o.ThumbSize/h), o.ThumbSize
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("encoding thumbnail: %w", err)
	}
	return out.Bytes(), nil
}
