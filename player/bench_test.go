package player

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/player/decode"
	"github.com/kith-media/kith/share/sealed"
)

// fileSealedSource opens sealed titles from files in a data folder, like the
// library will: the sealed (ciphertext) file is on disk, the plaintext only
// in memory. wrap, if set, turns the file into a ChunkSource with latency
// (a neighbour's link), which also makes the title progressive.
type fileSealedSource struct {
	dir    string
	titles map[string]*sealedTitle
	wrap   func(sealed.ChunkSource) sealed.ChunkSource
}

func (s *fileSealedSource) Open(ctx context.Context, id string) (Media, error) {
	st := s.titles[id]
	f, err := os.Open(filepath.Join(s.dir, st.m.ContentID().String()+".sealed"))
	if err != nil {
		return nil, err
	}
	var src any = f
	if s.wrap != nil {
		src = s.wrap(sealed.FileSource(f))
	}
	m, err := OpenSealed(ctx, src, st.m, st.lic, st.dev, st.dirPub)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &closeBoth{SealedMedia: m, f: f}, nil
}

type closeBoth struct {
	*SealedMedia
	f *os.File
}

func (c *closeBoth) Close() error {
	err := c.SealedMedia.Close()
	c.f.Close()
	return err
}

// longMP3 repeats the tone fixture (MP3 frames concatenate) to about d.
func longMP3(t testing.TB, d time.Duration) []byte {
	one := readFixture(t, "tone.mp3")
	n := int(d / (2 * time.Second))
	return bytes.Repeat(one, max(n, 1))
}

// storeSealed writes st's sealed file into dir, named by content ID.
func storeSealed(t testing.TB, dir string, st *sealedTitle) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, st.m.ContentID().String()+".sealed"), st.file, 0o600); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkTimeToFirstPCM measures Play → first PCM frame handed to the
// output for a licensed sealed 4-minute MP3: "local" is a complete sealed
// file in the data folder; "neighbour-20ms" reads every chunk through a
// ChunkSource that adds 20 ms (the hook for the sharing code's real
// "not yet held" figure, which needs the peer fetcher).
func BenchmarkTimeToFirstPCM(b *testing.B) {
	for _, c := range []struct {
		name    string
		latency time.Duration
	}{{"local", 0}, {"neighbour-20ms", 20 * time.Millisecond}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			st := sealTitle(b, "song", longMP3(b, 4*time.Minute), "audio/mpeg", 0)
			storeSealed(b, dir, st)
			src := &fileSealedSource{dir: dir, titles: map[string]*sealedTitle{"song": st}}
			if c.latency > 0 {
				src.wrap = func(s sealed.ChunkSource) sealed.ChunkSource { return latencySource{src: s, delay: c.latency} }
			}
			out := newFakeOutput(rate)
			p, err := New(Options{Source: src, Output: out, Logger: discardLogger()})
			if err != nil {
				b.Fatal(err)
			}
			first := make(chan time.Time, 1)
			p.setOnFirstPCM(func(id string, at time.Time) {
				select {
				case first <- at:
				default:
				}
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Serve(ctx) }()
			defer func() { cancel(); <-done }()
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				p.Play("song")
				select {
				case at := <-first:
					lat = append(lat, at.Sub(start))
				case <-time.After(10 * time.Second):
					b.Fatal("no PCM within 10s")
				}
				b.StopTimer()
				p.Stop()
				time.Sleep(20 * time.Millisecond)
				b.StartTimer()
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "ms-p95")
		})
	}
}

// toneStream generates a WAV of n bytes of 16-bit stereo tone plus noise
// on the fly, so a 1 GiB plaintext never exists anywhere as a whole.
type toneStream struct {
	hdr  []byte
	left int64
	i    int64
}

func newToneStream(dataLen int64) *toneStream {
	return &toneStream{hdr: []byte(decode.WAVHeader(rate, 2, int(dataLen))), left: dataLen}
}

func (s *toneStream) Read(p []byte) (int, error) {
	if len(s.hdr) > 0 {
		n := copy(p, s.hdr)
		s.hdr = s.hdr[n:]
		return n, nil
	}
	if s.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n+4 <= len(p) && s.left >= 4 {
		v := int16(0.3 * 32767 * math.Sin(2*math.Pi*440*float64(s.i)/rate))
		binary.LittleEndian.PutUint16(p[n:], uint16(v))
		binary.LittleEndian.PutUint16(p[n+2:], uint16(v))
		s.i++
		n += 4
		s.left -= 4
	}
	return n, nil
}

// vm reads a field (kB) of /proc/self/status.
func vm(b *testing.B, field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb
		}
	}
	return 0
}

// BenchmarkPeakRSS1GiB plays a 1 GiB sealed WAV title (sealed file on disk,
// plaintext generated on the fly and only ever in memory a chunk at a time),
// with the fake output pulling 100× faster than real time and a seek across
// the title per iteration, and reports the process's peak RSS (VmHWM)
// during playback.
func BenchmarkPeakRSS1GiB(b *testing.B) {
	if testing.Short() {
		b.Skip("1 GiB benchmark")
	}
	dir := b.TempDir()
	_, dev := identities(b)
	const size = 1 << 30
	key, err := sealed.NewContentKey()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "big.sealed")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	m, err := sealed.Seal(bw, newToneStream(size-44), key, sealed.Options{MediaType: "audio/wav", Length: size})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	st := licenseFor(b, "big", m, key, dev)
	src := &fileSealedSource{dir: dir, titles: map[string]*sealedTitle{"big": st}}
	if err := os.Rename(path, filepath.Join(dir, m.ContentID().String()+".sealed")); err != nil {
		b.Fatal(err)
	}
	out := newFakeOutput(rate)
	out.speed = 100
	p, err := New(Options{Source: src, Output: out, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	// Reset the peak to now, so sealing above does not count.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	b.ResetTimer()
	evs, unsub := p.Subscribe()
	defer unsub()
	p.Play("big")
	for e := range evs {
		if e.Kind == EventState && e.State == StatePlaying {
			break
		}
	}
	for i := 0; i < b.N; i++ {
		// Jump across the 101-minute title (the first seek indexes nothing:
		// WAV seeks by arithmetic) and play 400 ms (40 s of audio at 100×).
		at := time.Duration(i%10)*10*time.Minute + time.Minute
		p.Seek(at)
		time.Sleep(400 * time.Millisecond)
		if s := p.Status(); s.State != StatePlaying || s.Duration < 100*time.Minute || s.Position < at {
			b.Fatalf("status %+v after seeking to %v", s, at)
		}
	}
	p.Stop()
	b.ReportMetric(vm(b, "VmHWM")/1024, "MB-peak-RSS")
}

// discardLogger keeps benchmark output clean.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
