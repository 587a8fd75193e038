package player

// #cgo pkg-config: alsa
// #include <alsa/asoundlib.h>
// #include <stdlib.h>
//
// static int kith_alsa_setup(snd_pcm_t *h, unsigned int rate, snd_pcm_uframes_t *buffer,
//                            snd_pcm_uframes_t *period, int *can_pause) {
// 	snd_pcm_hw_params_t *hw;
// 	snd_pcm_sw_params_t *sw;
// 	int err;
// 	snd_pcm_hw_params_alloca(&hw);
// 	if ((err = snd_pcm_hw_params_any(h, hw)) < 0) return err;
// 	if ((err = snd_pcm_hw_params_set_access(h, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0) return err;
// 	if ((err = snd_pcm_hw_params_set_format(h, hw, SND_PCM_FORMAT_FLOAT_LE)) < 0) return err;
// 	if ((err = snd_pcm_hw_params_set_channels(h, hw, 2)) < 0) return err;
// 	if ((err = snd_pcm_hw_params_set_rate_resample(h, hw, 1)) < 0) return err;
// 	if ((err = snd_pcm_hw_params_set_rate(h, hw, rate, 0)) < 0) return err;
// 	if ((err = snd_pcm_hw_params_set_buffer_size_near(h, hw, buffer)) < 0) return err;
// 	if ((err = snd_pcm_hw_params_set_period_size_near(h, hw, period, 0)) < 0) return err;
// 	if ((err = snd_pcm_hw_params(h, hw)) < 0) return err;
// 	snd_pcm_hw_params_get_buffer_size(hw, buffer);
// 	snd_pcm_hw_params_get_period_size(hw, period, 0);
// 	*can_pause = snd_pcm_hw_params_can_pause(hw);
// 	snd_pcm_sw_params_alloca(&sw);
// 	if ((err = snd_pcm_sw_params_current(h, sw)) < 0) return err;
// 	// Start as soon as one period is queued: the first sound is not held
// 	// back until the whole buffer is full.
// 	if ((err = snd_pcm_sw_params_set_start_threshold(h, sw, *period)) < 0) return err;
// 	if ((err = snd_pcm_sw_params_set_avail_min(h, sw, *period)) < 0) return err;
// 	return snd_pcm_sw_params(h, sw);
// }
import "C"

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"
	"unsafe"
)

// DeviceOptions configure the ALSA output.
type DeviceOptions struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// SampleRate of the device; 0 means 44100.
	SampleRate int
	// Device is the ALSA PCM name; "" means "default" (PulseAudio or
	// PipeWire through their ALSA plugin on a desktop).
	Device string
	// Buffer is the device buffer; 0 means 200 ms (room for scheduling
	// delays on a busy machine). It is not a latency: playing, seeking and
	// changing title drop what is queued, and pausing pauses the device.
	Buffer time.Duration
}

// readyReader is a source that can say it has nothing ready (the pump).
type readyReader interface {
	ReadReady(b []byte) int
}

// DeviceOutput plays through ALSA (libasound) directly: one PCM of its own,
// written by one goroutine from the pump, with the device's own delay
// (snd_pcm_delay: what is queued in ALSA, the sound server and the sink)
// as the clock's "not yet heard", so positions and ends are reported when
// they are heard.
type DeviceOutput struct {
	opts DeviceOptions
	log  *slog.Logger

	mu         sync.Mutex // guards the PCM handle and the fields below
	pcm        *C.snd_pcm_t
	period     int // frames
	buffer     int // frames
	canPause   bool
	playing    bool // consuming the source
	paused     bool // snd_pcm_pause(1) is in effect
	volume     float32
	err        error
	queued     int64     // frames from the source written since the last drop
	played     int64     // of those, the frames Buffered last counted as heard
	playedAt   time.Time // when; zero after a drop
	lead       int       // frames of silence still to write before the source
	recoveries int       // underruns and suspends recovered from
	src        io.Reader
	done       chan struct{}
	stopped    chan struct{}
	wake       chan struct{} // SetPlaying and Flush wake the writer at once
}

// NewDeviceOutput returns the ALSA output; the device is opened by Start.
func NewDeviceOutput(opts DeviceOptions) *DeviceOutput {
	if opts.SampleRate <= 0 {
		opts.SampleRate = 44100
	}
	if opts.Device == "" {
		opts.Device = "default"
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &DeviceOutput{opts: opts, log: opts.Logger, volume: 1, wake: make(chan struct{}, 1)}
}

// SampleRate implements Output.
func (o *DeviceOutput) SampleRate() int { return o.opts.SampleRate }

func alsaErr(op string, code C.int) error {
	return fmt.Errorf("ALSA %s: %s", op, C.GoString(C.snd_strerror(code)))
}

// Start implements Output: it opens the device and starts the writer.
func (o *DeviceOutput) Start(src io.Reader) error {
	quietAudioProbes(o.log) // ALSA's own messages go to the log, not stderr
	name := C.CString(o.opts.Device)
	defer C.free(unsafe.Pointer(name))
	var h *C.snd_pcm_t
	if rc := C.snd_pcm_open(&h, name, C.SND_PCM_STREAM_PLAYBACK, C.SND_PCM_NONBLOCK); rc < 0 {
		return fmt.Errorf("%w: opening %q: %v", ErrNoOutput, o.opts.Device, alsaErr("open", rc))
	}
	buffer := C.snd_pcm_uframes_t(o.opts.Buffer.Seconds() * float64(o.opts.SampleRate))
	// Short periods: the writer tops the device up often, so the buffer
	// stays nearly full on a busy machine.
	period := buffer / 16
	var canPause C.int
	if rc := C.kith_alsa_setup(h, C.uint(o.opts.SampleRate), &buffer, &period, &canPause); rc < 0 {
		C.snd_pcm_close(h)
		return fmt.Errorf("%w: setting up %q at %d Hz: %v", ErrNoOutput, o.opts.Device, o.opts.SampleRate, alsaErr("setup", rc))
	}
	o.mu.Lock()
	o.pcm, o.period, o.buffer, o.canPause = h, int(period), int(buffer), canPause != 0
	o.lead = o.leadFrames()
	o.src = src
	o.done, o.stopped = make(chan struct{}), make(chan struct{})
	o.mu.Unlock()
	o.log.Debug("audio device open", "device", o.opts.Device, "rate", o.opts.SampleRate,
		"buffer_frames", buffer, "period_frames", period, "can_pause", canPause != 0)
	go o.write()
	return nil
}

// write is the writer goroutine: while playing, it tops the device up from
// the source a period at a time; it never blocks holding the lock.
func (o *DeviceOutput) write() {
	defer close(o.stopped)
	buf := make([]byte, o.period*frameBytes)
	nap := time.Duration(o.period) * time.Second / time.Duration(o.opts.SampleRate) / 2
	for {
		select {
		case <-o.done:
			return
		default:
		}
		wrote, err := o.fill(buf)
		if err != nil {
			o.mu.Lock()
			if o.err == nil {
				o.err = err
				o.log.Warn("audio device failed", "err", err)
			}
			o.mu.Unlock()
			return
		}
		if !wrote {
			select {
			case <-o.done:
				return
			case <-o.wake:
			case <-time.After(nap):
			}
		}
	}
}

// fill writes periods while the device has room. It reports whether it
// wrote anything.
func (o *DeviceOutput) fill(buf []byte) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	wrote := false
	for o.playing && !o.paused {
		avail := C.snd_pcm_avail_update(o.pcm)
		if avail < 0 {
			if rc := C.snd_pcm_recover(o.pcm, C.int(avail), 1); rc < 0 {
				return wrote, alsaErr("recover", rc)
			}
			o.recoveredLocked(avail)
			continue
		}
		if int(avail) < o.period {
			return wrote, nil
		}
		chunk, fromSrc := buf, true
		if o.lead > 0 {
			chunk, fromSrc = buf[:min(o.lead, o.period)*frameBytes], false
			clear(chunk)
			o.lead -= len(chunk) / frameBytes
		} else if rr, ok := o.src.(readyReader); ok && o.buffer-int(avail) >= 4*o.period {
			// The device holds enough: take only frames that are ready,
			// rather than queue silence ahead of frames being decoded.
			n := 0
			for n < len(buf) {
				k := rr.ReadReady(buf[n:])
				if k == 0 {
					break
				}
				n += k
			}
			if n == 0 {
				return wrote, nil
			}
			chunk = buf[:n]
			o.gain(chunk)
		} else {
			n, _ := io.ReadFull(o.src, buf) // the pump never fails; it pads with silence
			if n < len(buf) {
				clear(buf[n:])
			}
			o.gain(buf)
		}
		frames := C.snd_pcm_uframes_t(len(chunk) / frameBytes)
		for off := C.snd_pcm_uframes_t(0); off < frames; {
			w := C.snd_pcm_writei(o.pcm, unsafe.Pointer(&chunk[int(off)*frameBytes]), frames-off)
			if w == -C.EAGAIN {
				// avail said there was room; wait for it rather than spin.
				o.mu.Unlock()
				time.Sleep(time.Millisecond)
				o.mu.Lock()
				if !o.playing || o.paused || o.pcm == nil {
					return wrote, nil
				}
				continue
			}
			if w < 0 {
				if rc := C.snd_pcm_recover(o.pcm, C.int(w), 1); rc < 0 {
					return wrote, alsaErr("write", rc)
				}
				o.recoveredLocked(C.snd_pcm_sframes_t(w))
				continue
			}
			off += C.snd_pcm_uframes_t(w)
			if fromSrc {
				o.queued += int64(w)
			}
		}
		wrote = true
	}
	return wrote, nil
}

// recoveredLocked notes that the device recovered from err (an underrun,
// a suspend): what it held is gone, so the clock counts it heard.
func (o *DeviceOutput) recoveredLocked(err C.snd_pcm_sframes_t) {
	o.recoveries++
	o.log.Debug("audio device recovered", "err", C.GoString(C.snd_strerror(C.int(err))),
		"dropped_frames", o.queued-o.played, "recoveries", o.recoveries)
	o.queued, o.played, o.playedAt = 0, 0, time.Time{}
}

// gain applies the volume to float32 frames in place.
func (o *DeviceOutput) gain(b []byte) {
	if o.volume == 1 {
		return
	}
	for i := 0; i+4 <= len(b); i += 4 {
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[i:])) * o.volume
		binary.LittleEndian.PutUint32(b[i:], math.Float32bits(v))
	}
}

// SetPlaying implements Output: pausing pauses the device where it can
// (its queued frames are kept), else drops them.
func (o *DeviceOutput) SetPlaying(playing bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pcm == nil || playing == o.playing {
		o.playing = playing
		return
	}
	o.playing = playing
	defer o.wakeWriter()
	if !playing {
		if o.canPause && C.snd_pcm_state(o.pcm) == C.SND_PCM_STATE_RUNNING {
			if C.snd_pcm_pause(o.pcm, 1) == 0 {
				o.paused = true
				return
			}
		}
		o.dropLocked()
		return
	}
	if o.paused {
		o.paused = false
		if C.snd_pcm_pause(o.pcm, 0) < 0 {
			o.dropLocked()
		}
	}
}

// wakeWriter makes the writer look at the device now rather than after
// its nap.
func (o *DeviceOutput) wakeWriter() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// dropLocked discards what the device holds and makes it ready to start.
func (o *DeviceOutput) dropLocked() {
	C.snd_pcm_drop(o.pcm)
	C.snd_pcm_prepare(o.pcm)
	o.paused = false
	o.queued, o.played, o.playedAt = 0, 0, time.Time{}
	o.lead = o.leadFrames()
}

// leadFrames is the silence written when the device starts (10 ms): the
// first milliseconds of a starting PulseAudio stream come out damaged, so
// they carry nothing. The clock counts only frames from the source, so the
// position is not moved by it.
func (o *DeviceOutput) leadFrames() int { return o.opts.SampleRate / 100 }

// SetVolume implements Output (applied to frames written from now on).
func (o *DeviceOutput) SetVolume(v float64) {
	o.mu.Lock()
	o.volume = float32(max(0, min(1, v)))
	o.mu.Unlock()
}

// Buffered implements Output: the frames written but not yet played by the
// sink, from a clock of played frames that never goes back between drops
// and moves at the sink's pace: between readings it runs at the device's
// rate and is drawn toward the device's own figure (clockPull), never past
// it. That figure is the larger of the device's delay (snd_pcm_delay: what
// is queued in ALSA, the sound server and the sink) and what ALSA itself
// still holds (its buffer less the room in it), which the sink cannot have
// played yet.
//
// The device's delay alone is not a clock on a fresh PulseAudio stream:
// its ALSA plugin interpolates the played position from the time the
// stream started, so while the sink does not take the stream's first
// frames (a fresh null sink with no other stream took none for 0.1–1.5 s)
// the delay falls to 0 and stays there for another second or more after the
// sink starts taking frames, then comes back at the full buffer. Counted
// as heard, those frames stood the clock still for up to 1.5 s, moved it
// in steps as frames were written, then back; a video's first frames were
// dropped as late. ALSA's own figure moves only as the server takes
// frames, a period or a few at a time, which the pull smooths out.
func (o *DeviceOutput) Buffered() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pcm == nil || o.queued == 0 {
		return 0
	}
	var d C.snd_pcm_sframes_t
	if C.snd_pcm_delay(o.pcm, &d) < 0 || d < 0 {
		d = 0
	}
	held := int64(0)
	if a := C.snd_pcm_avail_update(o.pcm); a >= 0 {
		held = int64(o.buffer) - int64(a)
	}
	target := o.queued - min(o.queued, max(int64(d), held))
	now := time.Now()
	o.played = o.pull(o.played, target, now)
	o.playedAt = now
	return int(o.queued-o.played) * frameBytes
}

// clockPull is how fast the played-frames clock closes on the device's
// figure: the gap shrinks by dt/clockPull per reading dt apart.
const clockPull = 100 * time.Millisecond

// clockStep bounds how far one reading may move the clock beyond the time
// since the last: a frame is dropped as late at 40 ms.
const clockStep = 20 * time.Millisecond

// pull moves the played-frames clock from played (last read at
// o.playedAt) toward target, the device's figure, at now.
func (o *DeviceOutput) pull(played, target int64, now time.Time) int64 {
	if o.playedAt.IsZero() || !o.playing || o.paused {
		// The first reading since a drop takes the device's figure; a
		// paused clock stands.
		if o.playedAt.IsZero() {
			return max(played, target)
		}
		return played
	}
	rate := float64(o.opts.SampleRate)
	dt := now.Sub(o.playedAt)
	free := float64(played) + dt.Seconds()*rate
	next := free + (float64(target)-free)*min(1, float64(dt)/float64(clockPull))
	next = min(next, free+clockStep.Seconds()*rate, float64(target))
	return max(played, int64(next))
}

// Flush implements Output: queued frames are dropped and the writer reads
// the source again at once.
func (o *DeviceOutput) Flush() {
	o.mu.Lock()
	// A device that is prepared and holds nothing needs no drop (a round
	// trip to the sound server on the way to the first sound).
	if o.pcm != nil && (o.queued > 0 || C.snd_pcm_state(o.pcm) != C.SND_PCM_STATE_PREPARED) {
		o.dropLocked()
	}
	o.mu.Unlock()
	o.wakeWriter()
}

// Err implements Output.
func (o *DeviceOutput) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return fmt.Errorf("%w: %v", ErrNoOutput, o.err)
	}
	return nil
}

// Close implements Output: it stops the writer and closes the device.
func (o *DeviceOutput) Close() error {
	o.mu.Lock()
	h, done, stopped := o.pcm, o.done, o.stopped
	o.mu.Unlock()
	if h == nil {
		return nil
	}
	close(done)
	<-stopped
	o.mu.Lock()
	defer o.mu.Unlock()
	C.snd_pcm_drop(o.pcm)
	rc := C.snd_pcm_close(o.pcm)
	o.pcm = nil
	if rc < 0 {
		return alsaErr("close", rc)
	}
	return nil
}

var _ Output = (*DeviceOutput)(nil)
