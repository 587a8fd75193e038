package wire

import (
	"context"
	"errors"
	"image"
	"strings"
	"sync"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share/sealed"
)

// Player adapts a *player.Player to app.Player. Serve follows its events.
type Player struct {
	p      *player.Player
	artist func(id string) string // artist of a title, "" if unknown
	subs   subscribers

	mu      sync.Mutex
	resume  time.Duration // the saved position offered for the current title
	title   string
	id      string
	mt      string
	img     image.Image
	err     string
	state   player.State
	pos     time.Duration
	dur     time.Duration
	started bool
	video   bool // the title playing shows a picture (EventVideo seen)
}

// NewPlayer adapts p; artist (may be nil) names the artist of a title ID.
func NewPlayer(p *player.Player, artist func(id string) string) *Player {
	return &Player{p: p, artist: artist}
}

// Serve follows the player's events until ctx ends.
func (a *Player) Serve(ctx context.Context) error {
	ch, stop := a.p.Subscribe()
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-ch:
			if a.apply(e) {
				a.subs.notify()
			}
		}
	}
}

// apply takes in e and reports whether the state the app shows changed
// (video frames, 30 a second, change it only when a picture first shows).
func (a *Player) apply(e player.Event) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch e.Kind {
	case player.EventVideo:
		if a.video || e.TitleID != a.id {
			return false // shown already, or a frame of the title before
		}
		a.video = true
	case player.EventState:
		a.state = e.State
		if e.State == player.StateStopped {
			a.video = false
		}
		if e.Err != nil {
			a.err = e.Err.Error()
		} else if e.State == player.StatePlaying {
			a.err = ""
		}
	case player.EventPosition:
		a.pos, a.dur = e.Position, e.Duration
	case player.EventTrack:
		a.id, a.title, a.dur, a.pos, a.img, a.err = e.TitleID, e.Title, e.Duration, e.Resume, nil, ""
		a.resume, a.video = e.Resume, false
	case player.EventImage:
		a.id, a.title, a.img, a.dur, a.pos, a.video = e.TitleID, e.Title, e.Image, 0, 0, false
	case player.EventError:
		if e.Err != nil {
			a.err = e.Err.Error()
		}
	}
	return true
}

// SetVideoOut implements app.VideoPlayer: the player converts frames to
// out's size and hands them to it.
func (a *Player) SetVideoOut(out app.VideoOut) {
	if out == nil {
		a.p.SetVideoSink(nil)
		return
	}
	a.p.SetVideoSink(out)
}

// Play implements app.Player.
func (a *Player) Play(_ context.Context, queue []sealed.ContentID, start int) error {
	if start < 0 || start >= len(queue) {
		return errors.New("nothing to play")
	}
	ids := make([]string, 0, len(queue)-start)
	for _, c := range queue[start:] {
		ids = append(ids, c.String())
	}
	a.mu.Lock()
	a.started, a.err = true, ""
	a.mu.Unlock()
	a.p.Play(ids...)
	return nil
}

// Enqueue implements app.Player.
func (a *Player) Enqueue(_ context.Context, titles []sealed.ContentID) error {
	if len(titles) == 0 {
		return errors.New("nothing to add to the queue")
	}
	a.p.Enqueue(titleIDs(titles)...)
	return nil
}

// PlayNext implements app.Player.
func (a *Player) PlayNext(_ context.Context, titles []sealed.ContentID) error {
	if len(titles) == 0 {
		return errors.New("nothing to play next")
	}
	a.p.PlayNext(titleIDs(titles)...)
	return nil
}

func titleIDs(cs []sealed.ContentID) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.String()
	}
	return ids
}

// RemoveFromQueue implements app.Player.
func (a *Player) RemoveFromQueue(key uint64) { a.p.Remove(key) }

// MoveInQueue implements app.Player.
func (a *Player) MoveInQueue(key uint64, to int) { a.p.Move(key, to) }

// PlayQueued implements app.Player.
func (a *Player) PlayQueued(key uint64) { a.p.Jump(key) }

// SetRepeat implements app.Player.
func (a *Player) SetRepeat(r app.Repeat) {
	switch r {
	case app.RepeatOne:
		a.p.SetRepeat(player.RepeatOne)
	case app.RepeatAll:
		a.p.SetRepeat(player.RepeatAll)
	default:
		a.p.SetRepeat(player.RepeatOff)
	}
	a.subs.notify()
}

// SetShuffle implements app.Player.
func (a *Player) SetShuffle(on bool) { a.p.SetShuffle(on) }

// TogglePause implements app.Player.
func (a *Player) TogglePause() {
	switch a.p.Status().State {
	case player.StatePlaying, player.StateBuffering:
		a.p.Pause()
	default:
		a.p.Resume()
	}
}

// Next implements app.Player.
func (a *Player) Next() { a.p.Next() }

// Previous implements app.Player.
func (a *Player) Previous() { a.p.Previous() }

// Seek implements app.Player.
func (a *Player) Seek(pos time.Duration) { a.p.Seek(pos) }

// SetVolume implements app.Player.
func (a *Player) SetVolume(v float64) {
	a.p.SetVolume(v)
	a.subs.notify()
}

// State implements app.Player.
func (a *Player) State() app.PlayerState {
	st := a.p.Status()
	items, index := a.p.Queue()
	a.mu.Lock()
	defer a.mu.Unlock()
	out := app.PlayerState{Title: a.title, Image: a.img, Video: a.video, Err: a.err, Volume: st.Volume,
		Position: st.Position, Duration: st.Duration, Shuffle: st.Shuffle, Index: index}
	out.Queue = make([]app.QueueItem, 0, len(items))
	for _, it := range items {
		c, _ := sealed.ParseContentID(it.TitleID) // the app queues content IDs only
		out.Queue = append(out.Queue, app.QueueItem{Key: it.Key, Content: c})
	}
	if a.resume > 0 && st.Position+2*time.Second < a.resume {
		out.Resume = a.resume
	}
	switch st.Repeat {
	case player.RepeatOne:
		out.Repeat = app.RepeatOne
	case player.RepeatAll:
		out.Repeat = app.RepeatAll
	}
	id := a.id
	if id == "" {
		id = st.TitleID
	}
	if c, err := sealed.ParseContentID(id); err == nil {
		out.Content = c
	}
	if out.Duration == 0 {
		out.Duration = a.dur
	}
	if out.Title == "" && id != "" {
		out.Title = id
	}
	if a.artist != nil && id != "" {
		out.Artist = a.artist(id)
	}
	switch st.State {
	case player.StatePlaying:
		out.Playing = true
	case player.StateBuffering:
		out.Playing, out.Buffering = true, true
	case player.StateNoOutput:
		out.NoOutput = true
	case player.StateError:
		if out.Err == "" {
			out.Err = "playback stopped"
		}
	}
	if out.NoOutput && strings.Contains(out.Err, "no audio output") {
		out.Err = ""
	}
	return out
}

// Changes implements app.Player.
func (a *Player) Changes(fn func()) func() { return a.subs.add(fn) }
