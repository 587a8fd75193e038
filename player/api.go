package player

import (
	"context"
	"image"
	"io"
	"time"
)

// Source opens titles for playing. The library implements it (sealed file +
// license); tests use fakes.
type Source interface {
	// Open returns the plaintext media of a title. It may return before
	// the whole title is present; reads then wait for the missing parts.
	Open(ctx context.Context, titleID string) (Media, error)
}

// Media is an opened title: plaintext bytes in memory, never on disk.
type Media interface {
	io.ReadSeeker
	// Close releases the media and zeroes any key it holds.
	Close() error
	// Size is the plaintext length in bytes.
	Size() int64
	// MediaType is the catalog's type (a hint: the bytes are sniffed).
	MediaType() string
	// Title is the display name.
	Title() string
}

// Progressive is implemented by Media that may still be arriving;
// Progressive() true makes the decoder avoid whole-file scans.
type Progressive interface {
	Progressive() bool
}

// Positions stores the last position of each title, so playback can resume.
type Positions interface {
	Save(titleID string, pos time.Duration) error
	Load(titleID string) (pos time.Duration, ok bool, err error)
}

// State is what the player is doing.
type State int

// States.
const (
	StateStopped State = iota
	StatePlaying
	StatePaused
	StateBuffering
	StateNoOutput
	StateError
)

var stateNames = [...]string{"stopped", "playing", "paused", "buffering", "no-output", "error"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "unknown"
	}
	return stateNames[s]
}

// Repeat is the repeat mode of the queue.
type Repeat int

// Repeat modes.
const (
	RepeatOff Repeat = iota
	RepeatOne
	RepeatAll
)

// EventKind says which fields of an Event are set.
type EventKind int

// Event kinds.
const (
	// EventState: State (and Err for StateNoOutput/StateError).
	EventState EventKind = iota
	// EventPosition: TitleID, Position, Duration (about 4 per second while playing).
	EventPosition
	// EventTrack: TitleID, Title, Index, Duration, Resume (audible change of title).
	EventTrack
	// EventImage: TitleID, Title, Image, ImageBytes (an image title to show).
	EventImage
	// EventError: Err, TitleID when it concerns a title.
	EventError
	// EventVideo: TitleID, Position (the frame's time), Video (the frame,
	// RGBA at Options.VideoWidth×VideoHeight; reused two frames later; nil
	// while a VideoSink takes the picture), At (when it was shown).
	EventVideo
	// EventQueue: Index (the queue changed: Player.Queue has it).
	EventQueue
)

// Event is something the app may show.
type Event struct {
	Kind     EventKind
	State    State
	TitleID  string
	Title    string
	Index    int           // position in the queue
	Position time.Duration // playback position in the title
	Duration time.Duration // length of the title (0 if unknown)
	// Estimated reports that Duration is estimated from a bitrate.
	Estimated bool
	// Resume is the saved position of the title (0 if none), offered on
	// reopen; with Options.Resume playback already started there.
	Resume time.Duration
	Image  image.Image
	// ImageBytes are the encoded image (PNG/JPEG), for display only.
	ImageBytes []byte
	// Video is a video frame to show now (EventVideo; nil while a
	// VideoSink takes the picture).
	Video *image.RGBA
	// At is when a video frame was shown.
	At  time.Time
	Err error
}
