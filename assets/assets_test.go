package assets

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"testing"
)

func TestDemo(t *testing.T) {
	ts, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) < 4 {
		t.Fatalf("demo catalog has %d titles, want at least 4", len(ts))
	}
	free, priced := 0, 0
	for _, d := range ts {
		r, err := d.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		if len(b) == 0 || d.Name == "" || d.MediaType == "" {
			t.Errorf("title %+v is incomplete (%d bytes)", d, len(b))
		}
		if d.Price == 0 {
			free++
		} else {
			priced++
		}
	}
	if free == 0 || priced == 0 {
		t.Errorf("want free and priced titles, got %d free, %d priced", free, priced)
	}
}

func TestIcon(t *testing.T) {
	if _, err := png.Decode(bytes.NewReader(Icon)); err != nil {
		t.Fatalf("icon: %v", err)
	}
}

// TestDesktopEntry: the desktop entry a device packs with itself is the
// one packaging/ ships.
func TestDesktopEntry(t *testing.T) {
	want, err := os.ReadFile("../packaging/kith.desktop")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Desktop, want) {
		t.Errorf("assets/kith.desktop differs from packaging/kith.desktop:\n%s\nvs\n%s", Desktop, want)
	}
	for _, key := range []string{"Exec=kith\n", "Icon=kith\n", "Type=Application\n"} {
		if !bytes.Contains(Desktop, []byte(key)) {
			t.Errorf("desktop entry lacks %q", key)
		}
	}
}
