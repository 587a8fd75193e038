package player

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/player/decode"
)

// fakeOutput pulls PCM in real time (10 ms steps) with no device buffer and
// keeps what it pulled, so tests can check the signal.
type fakeOutput struct {
	rate     int
	startErr error
	mu       sync.Mutex
	playing  bool
	volume   float64
	pcm      []float32 // left channel pulled while playing, bounded
	pulled   int64
	flushes  int
	flushAt  []int64 // pulled at each Flush, before its refill
	stop     chan struct{}
	src      io.Reader
	speed    int // pulls per tick (1 = real time)
	// lag, if set, is how many bytes a device buffer holds: Buffered
	// reports them (at most what was pulled since the last Flush), so the
	// frames pulled are heard that much later, as from a real device.
	lag     int
	flushed int64 // pulled at the last Flush
}

func newFakeOutput(rate int) *fakeOutput {
	return &fakeOutput{rate: rate, volume: 1, stop: make(chan struct{}), speed: 1}
}

func (f *fakeOutput) Start(src io.Reader) error {
	if f.startErr != nil {
		return f.startErr
	}
	f.src = src
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		buf := make([]byte, f.rate/100*frameBytes)
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
			}
			f.mu.Lock()
			playing := f.playing
			f.mu.Unlock()
			if !playing {
				continue
			}
			for k := 0; k < f.speed; k++ {
				f.pull(buf)
			}
		}
	}()
	return nil
}

// pull reads one buffer from the source and keeps its left channel.
func (f *fakeOutput) pull(buf []byte) {
	n, _ := io.ReadFull(f.src, buf)
	f.mu.Lock()
	for i := 0; i+frameBytes <= n; i += frameBytes {
		if len(f.pcm) < 60*f.rate {
			f.pcm = append(f.pcm, math.Float32frombits(binary.LittleEndian.Uint32(buf[i:])))
		}
	}
	f.pulled += int64(n)
	f.mu.Unlock()
}

func (f *fakeOutput) SampleRate() int { return f.rate }

// SetPlaying, like oto's Play, pulls a buffer at once when starting.
func (f *fakeOutput) SetPlaying(p bool) {
	f.mu.Lock()
	was := f.playing
	f.playing = p
	f.mu.Unlock()
	if p && !was && f.src != nil {
		f.pull(make([]byte, f.rate/100*frameBytes))
	}
}
func (f *fakeOutput) SetVolume(v float64) {
	f.mu.Lock()
	f.volume = v
	f.mu.Unlock()
}
func (f *fakeOutput) Buffered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int(min(int64(f.lag), f.pulled-f.flushed))
}
func (f *fakeOutput) Flush() {
	f.mu.Lock()
	f.flushes++
	f.flushAt = append(f.flushAt, f.pulled)
	f.flushed = f.pulled
	playing := f.playing
	f.mu.Unlock()
	if playing && f.src != nil {
		// Like oto's Seek: refill at once from the source.
		f.pull(make([]byte, f.rate/100*frameBytes))
	}
}
func (f *fakeOutput) Err() error { return nil }
func (f *fakeOutput) Close() error {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	return nil
}

func (f *fakeOutput) samples() []float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := make([]float64, len(f.pcm))
	for i, v := range f.pcm {
		x[i] = float64(v)
	}
	return x
}

// memMedia is plaintext media in memory, with optional slow spots.
type memMedia struct {
	*bytes.Reader
	title     string
	mediaType string
	size      int64
	closed    bool
	// slowAt makes the first read at or after this offset sleep slowFor.
	slowAt  int64
	slowFor time.Duration
	gate    *gate
	mu      sync.Mutex
	prog    bool
}

// gate blocks the first read at or after offset at until release is
// closed; entered is closed when that read begins.
type gate struct {
	at      int64
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	passed  bool
}

func newGate(at int64) *gate {
	return &gate{at: at, entered: make(chan struct{}), release: make(chan struct{})}
}

// open lets the blocked read go on (once).
func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (m *memMedia) Read(p []byte) (int, error) {
	m.mu.Lock()
	pos, _ := m.Reader.Seek(0, io.SeekCurrent)
	if m.slowFor > 0 && pos >= m.slowAt {
		d := m.slowFor
		m.slowFor = 0
		m.mu.Unlock()
		time.Sleep(d)
		m.mu.Lock()
	}
	if g := m.gate; g != nil && !g.passed && pos >= g.at {
		g.passed = true
		m.mu.Unlock()
		close(g.entered)
		<-g.release
		m.mu.Lock()
	}
	defer m.mu.Unlock()
	return m.Reader.Read(p)
}
func (m *memMedia) Close() error      { m.closed = true; return nil }
func (m *memMedia) Size() int64       { return m.size }
func (m *memMedia) MediaType() string { return m.mediaType }
func (m *memMedia) Title() string     { return m.title }
func (m *memMedia) Progressive() bool { return m.prog }

// memSource serves titles from memory.
type memSource struct {
	mu     sync.Mutex
	titles map[string][]byte
	slow   map[string][2]int64 // id -> {offset, millis}
	gates  map[string]*gate
	opens  int
	byID   map[string]int // opens per title
}

func (s *memSource) Open(ctx context.Context, id string) (Media, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	if s.byID == nil {
		s.byID = map[string]int{}
	}
	s.byID[id]++
	b, ok := s.titles[id]
	if !ok {
		return nil, errors.New("no such title")
	}
	m := &memMedia{Reader: bytes.NewReader(b), title: "Title " + id, size: int64(len(b))}
	if sl, ok := s.slow[id]; ok {
		m.slowAt, m.slowFor, m.prog = sl[0], time.Duration(sl[1])*time.Millisecond, true
	}
	if g, ok := s.gates[id]; ok {
		m.gate, m.prog = g, true
	}
	return m, nil
}

// toneWAV is a 16-bit stereo WAV of the given tones, each lasting d.
func toneWAV(rate int, d time.Duration, freqs ...float64) []byte {
	per := int(d.Seconds() * float64(rate))
	var pcm bytes.Buffer
	pcm.Grow(per * len(freqs) * 4)
	for k, f := range freqs {
		for i := 0; i < per; i++ {
			v := int16(0.5 * 32767 * math.Sin(2*math.Pi*f*float64(k*per+i)/float64(rate)))
			if f == 0 {
				v = 0
			}
			_ = binary.Write(&pcm, binary.LittleEndian, [2]int16{v, v})
		}
	}
	return append([]byte(decode.WAVHeader(rate, 2, pcm.Len())), pcm.Bytes()...)
}

// memPositions is an in-memory Positions.
type memPositions struct {
	mu sync.Mutex
	m  map[string]time.Duration
}

func (p *memPositions) Save(id string, d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]time.Duration{}
	}
	p.m[id] = d
	return nil
}

func (p *memPositions) Load(id string) (time.Duration, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.m[id]
	return d, ok, nil
}

// events collects a subscription.
type events struct {
	mu  sync.Mutex
	all []Event
}

func collect(t *testing.T, p *Player) *events {
	ch, cancel := p.Subscribe()
	e := &events{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			e.mu.Lock()
			e.all = append(e.all, ev)
			e.mu.Unlock()
		}
	}()
	t.Cleanup(cancel)
	return e
}

// wait waits for an event matching ok.
func (e *events) wait(t *testing.T, d time.Duration, what string, ok func(Event) bool) Event {
	t.Helper()
	return e.waitFrom(t, 0, d, what, ok)
}

// waitFrom waits for an event matching ok among those after the first n.
func (e *events) waitFrom(t *testing.T, n int, d time.Duration, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, ev := range e.snapshot()[n:] {
			if ok(ev) {
				return ev
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; events: %v", what, e.summary())
	return Event{}
}

func (e *events) snapshot() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.all...)
}

func (e *events) summary() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s []string
	for _, ev := range e.all {
		switch ev.Kind {
		case EventState:
			s = append(s, "state:"+ev.State.String())
		case EventTrack:
			s = append(s, "track:"+ev.TitleID)
		case EventError:
			s = append(s, "error:"+ev.Err.Error())
		case EventImage:
			s = append(s, "image:"+ev.TitleID)
		}
	}
	return s
}

func isState(s State) func(Event) bool {
	return func(e Event) bool { return e.Kind == EventState && e.State == s }
}

// run starts p.Serve and stops it at the end of the test.
func run(t *testing.T, p *Player) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}
