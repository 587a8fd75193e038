package player

import (
	"errors"
	"io"
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

// ErrNoOutput is matched by errors.Is for every "no audio device" failure.
var ErrNoOutput = errors.New("no audio output available")
