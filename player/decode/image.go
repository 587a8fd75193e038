package decode

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // registers JPEG for image.Decode
	_ "image/png"  // registers PNG for image.Decode
)

// MaxImageBytes bounds the size of an image handed to the app.
const MaxImageBytes = 64 << 20

// MaxImagePixels bounds width×height, so a tiny file cannot ask for a huge
// allocation.
const MaxImagePixels = 100 << 20

// DecodeImage decodes a PNG or JPEG after checking its sniffed format and
// its declared dimensions.
func DecodeImage(b []byte) (image.Image, Format, error) {
	f := Sniff(b)
	if !f.IsImage() {
		return nil, f, &UnsupportedError{What: describe(b[:min(len(b), SniffLen)], "")}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, f, fmt.Errorf("decoding %s header: %w", f, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, f, fmt.Errorf("decoding %s: %dx%d pixels is out of range", f, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, f, fmt.Errorf("decoding %s: %w", f, err)
	}
	return img, f, nil
}
