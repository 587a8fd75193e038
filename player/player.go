package player

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/player/av"
	"github.com/kith-media/kith/player/decode"
)

// BufferingAfter is how long a media read may take before the player shows
// StateBuffering.
const BufferingAfter = 150 * time.Millisecond

// Options configure a Player.
type Options struct {
	// Logger; nil means slog.Default(). Only titles, sizes and errors are
	// logged; a given logger also receives FFmpeg's warnings (av.SetLogger).
	Logger *slog.Logger
	// Source opens titles (required).
	Source Source
	// Output plays PCM; nil means NewDeviceOutput at SampleRate.
	Output Output
	// SampleRate of the output when Output is nil; 0 means 44100.
	SampleRate int
	// Positions, if set, stores the last position per title.
	Positions Positions
	// Resume starts a title at its saved position (else it is only offered).
	Resume bool
	// PositionEvery is the interval of position events; 0 means 250 ms.
	PositionEvery time.Duration
	// VideoWidth and VideoHeight are the size of video frames (EventVideo);
	// 0 means 640×360.
	VideoWidth, VideoHeight int
	// Clock times the player's rules (nil: the wall clock): the control
	// loop's tick and with it position events, how long a read may take
	// before StateBuffering (BufferingAfter), how long a title waits for
	// its first blocks (150 ms), how often positions are saved (5 s).
	// The sound itself is paced by the Output, never by Clock.
	Clock clock.Clock
}

// Player is a queue of titles played through one output. Its controls may
// be called from any goroutine; they take effect in Serve's goroutine.
type Player struct {
	clk    clock.Clock
	ticked func(now time.Time) // tests: called after each tick of Serve's loop, in it
	log    *slog.Logger
	opts   Options
	out    Output
	pump   *pump
	cmds   chan func(ctx context.Context)
	subMu  sync.Mutex
	subs   map[chan Event]struct{}

	statusMu sync.Mutex
	status   Status
	items    []QueueItem // the queue as Queue returns it

	// Owned by Serve's goroutine.
	state     State
	queue     []entry // what plays, in order
	plain     []entry // the queue in the order it was given, while shuffled
	shuffle   bool
	lastKey   uint64 // the key of the newest entry
	index     int
	nextKey   uint64 // the entry the prepared next track is being opened for
	repeat    Repeat
	volume    float64
	cur       *track        // track being fed (may differ from the heard one at a boundary)
	heardT    *track        // track being heard
	lastPos   time.Duration // heardT's position (where cur starts after a start)
	endHeard  bool          // the queue left heardT by itself (it ended) and its end still plays
	lastSaved time.Time
	outErr    error
	nextT     *track // prepared next title
	openGen   int    // discards stale background opens
	nextGen   int
	waitNext  bool      // the current title ended before the next was ready
	draining  bool      // the queue ended; waiting for the output to play out
	video     *videoRun // the current title's picture, if any
	lastVideo *av.Stats // counts of the video played last

	sink atomic.Pointer[VideoSink] // where the picture goes (SetVideoSink)
}

// New builds a player; Serve runs it.
func New(opts Options) (*Player, error) {
	if opts.Source == nil {
		return nil, errors.New("player: Options.Source is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	} else {
		av.SetLogger(opts.Logger) // FFmpeg's warnings and errors beside the player's own
	}
	if opts.PositionEvery <= 0 {
		opts.PositionEvery = 250 * time.Millisecond
	}
	if opts.VideoWidth <= 0 || opts.VideoHeight <= 0 {
		opts.VideoWidth, opts.VideoHeight = 640, 360
	}
	out := opts.Output
	if out == nil {
		out = NewDeviceOutput(DeviceOptions{SampleRate: opts.SampleRate, Logger: opts.Logger})
	}
	p := &Player{
		clk:    clock.Or(opts.Clock),
		log:    opts.Logger,
		opts:   opts,
		out:    out,
		pump:   newPump(out.SampleRate()),
		cmds:   make(chan func(context.Context), 64),
		subs:   map[chan Event]struct{}{},
		volume: 1,
	}
	p.setStatus() // Status reports the real volume (full) before anything plays
	return p, nil
}

// Subscribe returns a channel of events and a function that ends the
// subscription (and closes the channel). Slow subscribers lose events
// rather than stall playback.
func (p *Player) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 256)
	p.subMu.Lock()
	p.subs[ch] = struct{}{}
	p.subMu.Unlock()
	return ch, func() {
		p.subMu.Lock()
		if _, ok := p.subs[ch]; ok {
			delete(p.subs, ch)
			close(ch) // a subscriber ranging over ch ends (emit sends under subMu)
		}
		p.subMu.Unlock()
	}
}

func (p *Player) emit(e Event) {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	for ch := range p.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Status is a snapshot of the player, for polling UIs and tests.
type Status struct {
	State    State
	TitleID  string
	Index    int
	Position time.Duration // heard position in the title
	Duration time.Duration
	Volume   float64
	Repeat   Repeat
	// Shuffle reports that the titles after the current one play in a
	// random order.
	Shuffle bool
	// Video are the presentation counts of the video playing or played
	// last (nil before any video).
	Video *av.Stats
}

// Status returns the latest snapshot (updated every 50 ms by Serve).
func (p *Player) Status() Status {
	p.statusMu.Lock()
	defer p.statusMu.Unlock()
	return p.status
}

func (p *Player) setStatus() {
	st := Status{State: p.state, Index: p.index, Position: p.lastPos, Volume: p.volume, Repeat: p.repeat, Shuffle: p.shuffle, Video: p.videoStats()}
	if p.heardT != nil {
		st.TitleID = p.heardT.id
		st.Duration, _ = p.heardT.duration()
	}
	p.statusMu.Lock()
	p.status = st
	p.statusMu.Unlock()
}

func (p *Player) setState(s State, err error) {
	defer p.setStatus()
	if s == p.state && err == nil {
		return
	}
	p.state = s
	p.emit(Event{Kind: EventState, State: s, Err: err})
}

func (p *Player) fail(titleID string, err error) {
	p.log.Warn("player error", "title", titleID, "err", err)
	p.emit(Event{Kind: EventError, TitleID: titleID, Err: err})
}

// do queues a control for Serve.
func (p *Player) do(f func(ctx context.Context)) { p.cmds <- f }

// Play replaces the queue with titleIDs and plays the first (the others
// in a random order while shuffle is on).
func (p *Player) Play(titleIDs ...string) {
	ids := append([]string(nil), titleIDs...)
	p.do(func(ctx context.Context) {
		p.setQueue(ids)
		p.start(ctx, 0, -1)
	})
}

// PlayFrom plays titleID (replacing the queue) starting at pos.
func (p *Player) PlayFrom(titleID string, pos time.Duration) {
	p.do(func(ctx context.Context) {
		p.setQueue([]string{titleID})
		p.start(ctx, 0, pos)
	})
}

// Enqueue appends titles to the queue; if nothing is playing, the first
// of them starts.
func (p *Player) Enqueue(titleIDs ...string) {
	ids := append([]string(nil), titleIDs...)
	p.do(func(ctx context.Context) { p.insert(ctx, len(p.queue), ids) })
}

// Pause pauses playback, keeping the position.
func (p *Player) Pause() {
	p.do(func(context.Context) {
		if p.state == StatePlaying || p.state == StateBuffering {
			p.out.SetPlaying(false)
			p.setState(StatePaused, nil)
			p.savePosition(true)
		}
	})
}

// Resume continues after Pause.
func (p *Player) Resume() {
	p.do(func(context.Context) {
		if p.state == StatePaused {
			p.out.SetPlaying(true)
			p.setState(StatePlaying, nil)
		}
	})
}

// Stop stops playback and forgets the current title (the queue is kept).
func (p *Player) Stop() {
	p.do(func(context.Context) { p.stop(StateStopped, nil) })
}

// Seek moves within the current title.
func (p *Player) Seek(pos time.Duration) {
	p.do(func(ctx context.Context) {
		t := p.cur
		if t == nil {
			return
		}
		if pos < 0 {
			pos = 0
		}
		if !t.stream.Seekable() {
			p.fail(t.id, fmt.Errorf("seeking %s: %w", t.id, decode.ErrNotSeekable))
			return
		}
		// A pending next track stays prepared; only the current one moves.
		t.seek(pos)
		if p.video != nil && p.video.t == t {
			p.startVideo(ctx, t, pos)
		}
		p.pump.dropPending()
		p.pump.setTrack(t, p.nextTrack())
		p.out.Flush()
		p.lastPos = pos
		p.endHeard = false // the output dropped what it held of an ended title
		p.emitPosition(t, pos)
	})
}

// SetVolume sets the volume in [0, 1].
func (p *Player) SetVolume(v float64) {
	p.do(func(context.Context) {
		p.volume = max(0, min(1, v))
		p.out.SetVolume(p.volume)
	})
}

// SetRepeat sets the repeat mode.
func (p *Player) SetRepeat(r Repeat) {
	p.do(func(ctx context.Context) {
		p.repeat = r
		p.prepareNext(ctx)
	})
}

// Next skips to the next title in the queue.
func (p *Player) Next() {
	p.do(func(ctx context.Context) {
		at, _ := p.heardTitle()
		if i, ok := p.after(at, true); ok {
			p.start(ctx, i, -1)
		} else {
			p.stop(StateStopped, nil)
		}
	})
}

// Previous restarts the title if more than 3 s were played, else goes to
// the previous title (both the heard one: heardTitle).
func (p *Player) Previous() {
	p.do(func(ctx context.Context) {
		i, t := p.heardTitle()
		if p.lastPos > 3*time.Second || i == 0 {
			if t != nil && t.stream.Seekable() {
				p.savePosition(true)
				p.start(ctx, i, 0)
				return
			}
		}
		p.start(ctx, max(0, i-1), 0)
	})
}

// heardTitle is the queue index and track of the title heard, which Next
// and Previous are about. When a title ends by itself the queue moves on
// at once (gaplessly into the prepared next title, or to the next one
// opened after it) while the output still plays the old one's end, up to
// its buffer's length (200 ms and the sound server's delay): the app
// still shows the old one (its track event, its position), and nothing of
// the next one was heard, so Next goes to it and Previous restarts the old
// one (or goes before it). After a move the user made (start), the title
// moved to is the one they are about.
func (p *Player) heardTitle() (int, *track) {
	if h := p.heardT; p.endHeard && h != nil && h != p.cur {
		return h.index, h // kept in place by queue edits (queueEdited)
	}
	return p.index, p.cur
}

// after returns the queue index that follows i under the repeat mode;
// skip makes RepeatOne move on (an explicit Next).
func (p *Player) after(i int, skip bool) (int, bool) {
	if p.repeat == RepeatOne && !skip {
		return i, i < len(p.queue)
	}
	if i+1 < len(p.queue) {
		return i + 1, true
	}
	if p.repeat != RepeatOff && len(p.queue) > 0 {
		return 0, true
	}
	return 0, false
}
