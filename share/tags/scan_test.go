package tags

import (
	"context"
	"os"
	"testing"
	"time"
)

// feedScan writes b to in.Scan in pieces of 1, 2, … 4,099 bytes (headers
// split across writes) and finishes it.
func feedScan(in *Info, b []byte) {
	for k := 1; len(b) > 0; k = k%4099 + 1 {
		n := min(k, len(b))
		in.Scan.Write(b[:n])
		b = b[n:]
	}
	in.FinishScan()
}

// TestDeferredScan: with DeferScan an MP3 without a frame count is not
// counted by Read (Scan set, Duration 0); counting the bytes written to
// Scan gives the duration Read's own count gives — CBR, VBR without a Xing
// header (frames of other sizes), with an ID3v1 tag after the last frame.
// An MP3 with a Xing header and other formats need no scan. An untagged MP3
// over 64 KiB is media.
func TestDeferredScan(t *testing.T) {
	f := newFixtures(t)
	cases := map[string][]string{
		"cbr.mp3":        {"--quiet", "-t", "--cbr", "-b", "128"},
		"vbr-noxing.mp3": {"--quiet", "-t", "-V", "2"},
		"id3v1.mp3":      {"--quiet", "-t", "--cbr", "-b", "96", "--id3v1-only", "--tt", "Old"},
		"xing.mp3":       {"--quiet", "--cbr", "-b", "128"},
	}
	for name, args := range cases {
		p := f.path(name)
		tool(t, "lame", append(args, f.wav, p)...)
		want := read(t, p)
		checkDuration(t, want, 3*time.Second)
		in, err := Read(context.Background(), p, Options{DeferScan: true})
		if err != nil {
			t.Fatal(err)
		}
		if name == "xing.mp3" {
			if in.Scan != nil || in.Duration != want.Duration {
				t.Errorf("%s: scan %v, duration %v, want none and %v", name, in.Scan != nil, in.Duration, want.Duration)
			}
			continue
		}
		if in.Scan == nil || in.Duration != 0 {
			t.Fatalf("%s: no scan deferred (duration %v)", name, in.Duration)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		feedScan(in, b)
		if in.Scan != nil || in.Duration != want.Duration || len(in.Problems) != len(want.Problems) {
			t.Errorf("%s: deferred %v %q, read %v %q", name, in.Duration, in.Problems, want.Duration, want.Problems)
		}
	}
	// Untagged and over 64 KiB: media (sniffed by its frames), counted.
	long, p := f.path("long.wav"), f.path("long-untagged.mp3")
	tool(t, "sox", "-q", "-n", "-r", "44100", "-c", "2", "-b", "16", long, "synth", "9", "sine", "440")
	tool(t, "lame", "--quiet", "-t", "--cbr", "-b", "128", long, p)
	if st, err := os.Stat(p); err != nil || st.Size() <= 64<<10 {
		t.Fatalf("%v, %v: want an MP3 over 64 KiB", st, err)
	}
	want := read(t, p)
	checkDuration(t, want, 9*time.Second)
	if in, err := Read(context.Background(), p, Options{DeferScan: true}); err != nil || in.Scan == nil {
		t.Errorf("long untagged MP3: %+v, %v", in, err)
	} else if b, _ := os.ReadFile(p); true {
		feedScan(in, b)
		if in.Duration != want.Duration {
			t.Errorf("long untagged MP3: deferred %v, read %v", in.Duration, want.Duration)
		}
	}
	in, err := Read(context.Background(), f.wav, Options{DeferScan: true})
	if err != nil || in.Scan != nil {
		t.Errorf("a WAV deferred a scan: %+v, %v", in, err)
	}
}
