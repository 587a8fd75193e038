package player

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ebitengine/oto/v3"
)

// Output is an audio device that pulls PCM: interleaved stereo float32
// little-endian frames at SampleRate.
type Output interface {
	// Start begins pulling from src. It returns the device error if there
	// is no usable device.
	Start(src io.Reader) error
	// SampleRate is the device rate in frames per second.
	SampleRate() int
	// SetPlaying pauses (false) or resumes (true) consumption; buffered
	// frames are kept.
	SetPlaying(playing bool)
	// SetVolume sets the gain in [0, 1].
	SetVolume(v float64)
	// Buffered is the number of bytes read from src but not yet heard.
	Buffered() int
	// Flush drops buffered frames and reads src again at once.
	Flush()
	// Err is a device error that happened after Start, if any.
	Err() error
	// Close stops pulling.
	Close() error
}

// OtoOptions configure the oto output.
type OtoOptions struct {
	// SampleRate of the device; 0 means 44100.
	SampleRate int
	// DeviceBuffer is the device (ALSA) buffer; 0 means 100 ms (room for
	// scheduling delays on a busy machine).
	DeviceBuffer time.Duration
	// PlayerBuffer is oto's per-player buffer; 0 means 200 ms. It bounds
	// the latency of seek and stop, and the silence inserted on underrun.
	PlayerBuffer time.Duration
	// ReadyTimeout bounds the wait for the device; 0 means 5 s.
	ReadyTimeout time.Duration
	// Logger gets the audio libraries' device-probe messages at debug
	// level (they would print to stderr otherwise); nil = slog.Default().
	Logger *slog.Logger
}

var (
	otoOnce sync.Once
	otoCtx  *oto.Context
	otoRdy  chan struct{}
	otoErr  error
	otoRate int
)

// OtoOutput plays through github.com/ebitengine/oto/v3 (ALSA on Linux),
// ebiten's own output layer, driven directly so that device errors are seen
// (Context.Err) and the clock can use BufferedSize. oto allows one context
// per process: every OtoOutput shares it and must ask for the same rate.
type OtoOutput struct {
	opts   OtoOptions
	mu     sync.Mutex
	player *oto.Player
	volume float64
}

// NewOtoOutput returns the oto output; the device is opened by Start.
func NewOtoOutput(opts OtoOptions) *OtoOutput {
	if opts.SampleRate <= 0 {
		opts.SampleRate = 44100
	}
	if opts.DeviceBuffer <= 0 {
		opts.DeviceBuffer = 100 * time.Millisecond
	}
	if opts.PlayerBuffer <= 0 {
		opts.PlayerBuffer = 200 * time.Millisecond
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &OtoOutput{opts: opts, volume: 1}
}

// ErrNoOutput is matched by errors.Is for every "no audio device" failure.
var ErrNoOutput = errors.New("no audio output available")

// SampleRate implements Output.
func (o *OtoOutput) SampleRate() int { return o.opts.SampleRate }

// Start implements Output. It creates the process's oto context on first use.
func (o *OtoOutput) Start(src io.Reader) error {
	otoOnce.Do(func() {
		quietAudioProbes(o.opts.Logger)
		otoRate = o.opts.SampleRate
		otoCtx, otoRdy, otoErr = oto.NewContext(&oto.NewContextOptions{
			SampleRate:   o.opts.SampleRate,
			ChannelCount: 2,
			Format:       oto.FormatFloat32LE,
			BufferSize:   o.opts.DeviceBuffer,
		})
	})
	if otoErr != nil {
		return fmt.Errorf("%w: %v", ErrNoOutput, otoErr)
	}
	if otoRate != o.opts.SampleRate {
		return fmt.Errorf("%w: the audio context runs at %d Hz, %d asked", ErrNoOutput, otoRate, o.opts.SampleRate)
	}
	select {
	case <-otoRdy:
	case <-time.After(o.opts.ReadyTimeout):
		return fmt.Errorf("%w: audio device not ready after %v", ErrNoOutput, o.opts.ReadyTimeout)
	}
	if err := otoCtx.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrNoOutput, err)
	}
	p := otoCtx.NewPlayer(src)
	p.SetBufferSize(o.bytes(o.opts.PlayerBuffer))
	o.mu.Lock()
	p.SetVolume(o.volume)
	o.player = p
	o.mu.Unlock()
	return nil
}

func (o *OtoOutput) bytes(d time.Duration) int {
	return int(d.Seconds()*float64(o.opts.SampleRate)) * frameBytes
}

func (o *OtoOutput) get() *oto.Player {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.player
}

// SetPlaying implements Output.
func (o *OtoOutput) SetPlaying(playing bool) {
	if p := o.get(); p != nil {
		if playing {
			p.Play()
		} else {
			p.Pause()
		}
	}
}

// SetVolume implements Output.
func (o *OtoOutput) SetVolume(v float64) {
	o.mu.Lock()
	o.volume = v
	p := o.player
	o.mu.Unlock()
	if p != nil {
		p.SetVolume(v)
	}
}

// Buffered implements Output: oto's player buffer plus the device buffer
// while playing.
func (o *OtoOutput) Buffered() int {
	p := o.get()
	if p == nil {
		return 0
	}
	n := p.BufferedSize()
	if p.IsPlaying() {
		n += o.bytes(o.opts.DeviceBuffer)
	}
	return n
}

// Flush implements Output: oto's Seek empties its buffer and, when playing,
// refills it from the source at once (our source ignores the offset).
func (o *OtoOutput) Flush() {
	if p := o.get(); p != nil {
		_, _ = p.Seek(0, io.SeekCurrent)
	}
}

// Err implements Output.
func (o *OtoOutput) Err() error {
	if otoCtx != nil {
		if err := otoCtx.Err(); err != nil {
			return fmt.Errorf("%w: %v", ErrNoOutput, err)
		}
	}
	if p := o.get(); p != nil {
		if err := p.Err(); err != nil {
			return fmt.Errorf("audio output: %w", err)
		}
	}
	return nil
}

// Close implements Output.
func (o *OtoOutput) Close() error {
	o.mu.Lock()
	p := o.player
	o.player = nil
	o.mu.Unlock()
	if p != nil {
		p.Pause()
		return p.Close()
	}
	return nil
}
