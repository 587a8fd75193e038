package decode

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"testing"
	"time"
)

// FuzzOpen feeds arbitrary bytes to the sniffer and decoders: they must
// return errors, never panic or hang, and PCM must come out in whole frames.
func FuzzOpen(f *testing.F) {
	for _, name := range []string{"tone.mp3", "tone.ogg", "tone48m.flac", "tone22m8.wav"} {
		b := fixture(f, name)
		f.Add(b[:min(len(b), 4096)], false)
		f.Add(b[:min(len(b), 600)], true)
	}
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64"), true)
	f.Fuzz(func(t *testing.T, data []byte, progressive bool) {
		s, err := Open(bytes.NewReader(data), int64(len(data)), Options{Progressive: progressive})
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		total := 0
		for total < 256<<10 { // enough to exercise the decoders, fast enough to fuzz
			n, err := s.Read(buf)
			if n%BytesPerFrame != 0 {
				t.Fatalf("read %d bytes, not whole frames", n)
			}
			total += n
			if err != nil || n == 0 {
				break
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = s.Seek(0, io.SeekStart)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("Seek on %v hung", s.Format())
		}
	})
}

// FuzzDecodeImage checks that hostile images give errors, not panics or huge
// allocations.
func FuzzDecodeImage(f *testing.F) {
	var b bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	_ = png.Encode(&b, img)
	f.Add(b.Bytes())
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = DecodeImage(data)
	})
}

func TestDecodeImage(t *testing.T) {
	var b bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	got, f, err := DecodeImage(b.Bytes())
	if err != nil || f != PNG {
		t.Fatalf("DecodeImage: %v %v", f, err)
	}
	if r, _, _, _ := got.At(1, 1).RGBA(); r != 0xffff || got.Bounds().Dx() != 3 {
		t.Errorf("decoded image differs: %v", got.Bounds())
	}
	if _, _, err := DecodeImage([]byte("not an image")); err == nil {
		t.Error("DecodeImage(text) succeeded")
	}
}
