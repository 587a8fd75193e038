// Package mpris puts Kith's player on the D-Bus session bus as an MPRIS 2
// media player (bus name org.mpris.MediaPlayer2.kith, object
// /org/mpris/MediaPlayer2), so media keys and the desktop's media controls
// drive Kith. It uses a private connection of its own; with no session bus
// it logs once and does nothing — never fatal.
//
// Implemented: org.mpris.MediaPlayer2 (Raise, Quit; Identity, DesktopEntry,
// CanQuit, CanRaise, HasTrackList=false) and org.mpris.MediaPlayer2.Player
// (Play, Pause, PlayPause, Stop, Next, Previous, Seek, SetPosition;
// PlaybackStatus, Metadata, Volume (writable), Position, Rate, LoopStatus
// and Shuffle (writable), Can*; CanGoNext follows the queue: a title after
// the current one, or repeat on),
// with PropertiesChanged signals when the player changes. Track IDs are
// /org/kith/track/<content ID>.
package mpris

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"github.com/kith-media/kith/app"
)

const (
	path        = dbus.ObjectPath("/org/mpris/MediaPlayer2")
	ifaceRoot   = "org.mpris.MediaPlayer2"
	ifacePlayer = "org.mpris.MediaPlayer2.Player"
	busName     = "org.mpris.MediaPlayer2.kith"
)

// Options configure a Service.
type Options struct {
	Player app.Player // required
	Raise  func()     // show the window; nil = not supported
	Quit   func()     // quit Kith; nil = not supported
	// Address is the bus address; "" = the session bus
	// (DBUS_SESSION_BUS_ADDRESS).
	Address string
	Logger  *slog.Logger
}

// Service is the MPRIS bridge. Serve runs it.
type Service struct {
	o     Options
	log   *slog.Logger
	mu    sync.Mutex
	props *prop.Properties
	conn  *dbus.Conn
	last  app.PlayerState
	name  string
}

// New builds a Service; it connects nothing until Serve.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{o: o, log: o.Logger}
}

// Name is the bus name the service owns while serving ("" before).
func (s *Service) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// Serve connects to the bus, exports the player and follows its changes
// until ctx ends. No bus, or a bus that refuses the export, returns an
// error at once: run it under internal/supervise, which retries it (a
// desktop session may start after Kith) without ending the app.
func (s *Service) Serve(ctx context.Context) error {
	var conn *dbus.Conn
	var err error
	if s.o.Address != "" {
		conn, err = dbus.Connect(s.o.Address)
	} else {
		conn, err = dbus.ConnectSessionBus()
	}
	if err != nil {
		return fmt.Errorf("no D-Bus session bus, so media keys and desktop media controls do not reach Kith: %w", err)
	}
	defer conn.Close()
	if err := s.export(conn); err != nil {
		return fmt.Errorf("MPRIS: %w", err)
	}
	changed := make(chan struct{}, 1)
	stop := s.o.Player.Changes(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer stop()
	s.update()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			s.update()
		}
	}
}

func (s *Service) export(conn *dbus.Conn) error {
	s.conn = conn
	if err := conn.Export(root{s}, path, ifaceRoot); err != nil {
		return fmt.Errorf("exporting %s: %w", ifaceRoot, err)
	}
	if err := conn.ExportWithMap(player{s}, map[string]string{"SeekBy": "Seek"}, path, ifacePlayer); err != nil {
		return fmt.Errorf("exporting %s: %w", ifacePlayer, err)
	}
	st := s.o.Player.State()
	ro := func(v any) *prop.Prop { return &prop.Prop{Value: v, Emit: prop.EmitTrue} }
	props, err := prop.Export(conn, path, prop.Map{
		ifaceRoot: {
			"CanQuit":             ro(s.o.Quit != nil),
			"CanRaise":            ro(s.o.Raise != nil),
			"HasTrackList":        ro(false),
			"Identity":            ro("Kith"),
			"DesktopEntry":        ro("kith"),
			"SupportedUriSchemes": ro([]string{}),
			"SupportedMimeTypes":  ro([]string{"audio/mpeg", "audio/ogg", "audio/wav", "audio/flac"}),
		},
		ifacePlayer: {
			"PlaybackStatus": ro(status(st)),
			"LoopStatus": {Value: loopStatus(st.Repeat), Writable: true, Emit: prop.EmitTrue, Callback: func(c *prop.Change) *dbus.Error {
				v, _ := c.Value.(string)
				r, ok := map[string]app.Repeat{"None": app.RepeatOff, "Track": app.RepeatOne, "Playlist": app.RepeatAll}[v]
				if !ok {
					return dbus.MakeFailedError(fmt.Errorf("LoopStatus %q: want None, Track or Playlist", v))
				}
				s.o.Player.SetRepeat(r)
				return nil
			}},
			"Rate": ro(1.0),
			"Shuffle": {Value: st.Shuffle, Writable: true, Emit: prop.EmitTrue, Callback: func(c *prop.Change) *dbus.Error {
				v, ok := c.Value.(bool)
				if !ok {
					return dbus.MakeFailedError(fmt.Errorf("Shuffle must be a boolean"))
				}
				s.o.Player.SetShuffle(v)
				return nil
			}},
			"Metadata": ro(metadata(st)),
			"Volume": {Value: st.Volume, Writable: true, Emit: prop.EmitTrue, Callback: func(c *prop.Change) *dbus.Error {
				if v, ok := c.Value.(float64); ok {
					s.o.Player.SetVolume(min(1, max(0, v)))
				}
				return nil
			}},
			"Position":      {Value: int64(0), Emit: prop.EmitFalse},
			"MinimumRate":   ro(1.0),
			"MaximumRate":   ro(1.0),
			"CanGoNext":     {Value: canGoNext(st), Emit: prop.EmitTrue},
			"CanGoPrevious": {Value: len(st.Queue) > 0, Emit: prop.EmitTrue},
			"CanPlay":       ro(true),
			"CanPause":      ro(true),
			"CanSeek":       ro(true),
			"CanControl":    ro(true),
		},
	})
	if err != nil {
		return fmt.Errorf("exporting properties: %w", err)
	}
	s.mu.Lock()
	s.props = props
	s.last = st
	s.mu.Unlock()
	node := &introspect.Node{Name: string(path), Interfaces: []introspect.Interface{
		introspect.IntrospectData, prop.IntrospectData,
		{Name: ifaceRoot, Methods: introspect.Methods(root{s}), Properties: props.Introspection(ifaceRoot)},
		{Name: ifacePlayer, Methods: introspect.Methods(player{s}), Properties: props.Introspection(ifacePlayer),
			Signals: []introspect.Signal{{Name: "Seeked", Args: []introspect.Arg{{Name: "Position", Type: "x"}}}}},
	}}
	if err := conn.Export(introspect.NewIntrospectable(node), path, "org.freedesktop.DBus.Introspectable"); err != nil {
		return fmt.Errorf("exporting introspection: %w", err)
	}
	name := busName
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err == nil && reply != dbus.RequestNameReplyPrimaryOwner {
		name = fmt.Sprintf("%s.instance%d", busName, os.Getpid()) // a second Kith
		reply, err = conn.RequestName(name, dbus.NameFlagDoNotQueue)
	}
	if err != nil {
		return fmt.Errorf("requesting %s: %w", name, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("bus name %s is taken", name)
	}
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
	return nil
}

// update publishes the player's state as properties (and Seeked on jumps).
func (s *Service) update() {
	st := s.o.Player.State()
	s.mu.Lock()
	last := s.last
	s.last = st
	props := s.props
	s.mu.Unlock()
	if props == nil {
		return
	}
	props.SetMust(ifacePlayer, "PlaybackStatus", status(st))
	if st.Content != last.Content || st.Title != last.Title || st.Duration != last.Duration {
		props.SetMust(ifacePlayer, "Metadata", metadata(st))
	}
	if st.Volume != last.Volume {
		props.SetMust(ifacePlayer, "Volume", st.Volume)
	}
	if st.Repeat != last.Repeat {
		props.SetMust(ifacePlayer, "LoopStatus", loopStatus(st.Repeat))
	}
	if st.Shuffle != last.Shuffle {
		props.SetMust(ifacePlayer, "Shuffle", st.Shuffle)
	}
	if canGoNext(st) != canGoNext(last) {
		props.SetMust(ifacePlayer, "CanGoNext", canGoNext(st))
	}
	if (len(st.Queue) > 0) != (len(last.Queue) > 0) {
		props.SetMust(ifacePlayer, "CanGoPrevious", len(st.Queue) > 0)
	}
	props.SetMust(ifacePlayer, "Position", st.Position.Microseconds())
	// A jump (not the clock moving on) is announced with Seeked.
	if st.Content == last.Content && last.Title != "" {
		if d := st.Position - last.Position; d < -time.Second || d > 3*time.Second {
			s.conn.Emit(path, ifacePlayer+".Seeked", st.Position.Microseconds())
		}
	}
}

// canGoNext reports that Next has somewhere to go: a title after the
// current one in the queue, or a queue that repeats.
func canGoNext(st app.PlayerState) bool {
	return st.Index+1 < len(st.Queue) || len(st.Queue) > 0 && st.Repeat != app.RepeatOff
}

// loopStatus is MPRIS's name of a repeat mode.
func loopStatus(r app.Repeat) string {
	switch r {
	case app.RepeatOne:
		return "Track"
	case app.RepeatAll:
		return "Playlist"
	}
	return "None"
}

func status(st app.PlayerState) string {
	switch {
	case st.Title == "":
		return "Stopped"
	case st.Playing:
		return "Playing"
	}
	return "Paused"
}

func trackID(st app.PlayerState) dbus.ObjectPath {
	if st.Title == "" {
		return "/org/mpris/MediaPlayer2/TrackList/NoTrack"
	}
	return dbus.ObjectPath("/org/kith/track/" + st.Content.String())
}

func metadata(st app.PlayerState) map[string]dbus.Variant {
	m := map[string]dbus.Variant{"mpris:trackid": dbus.MakeVariant(trackID(st))}
	if st.Title != "" {
		m["xesam:title"] = dbus.MakeVariant(st.Title)
	}
	if st.Artist != "" {
		m["xesam:artist"] = dbus.MakeVariant([]string{st.Artist})
	}
	if st.Duration > 0 {
		m["mpris:length"] = dbus.MakeVariant(st.Duration.Microseconds())
	}
	return m
}

// root implements org.mpris.MediaPlayer2.
type root struct{ s *Service }

// Raise shows Kith's window.
func (r root) Raise() *dbus.Error {
	if r.s.o.Raise != nil {
		r.s.o.Raise()
	}
	return nil
}

// Quit quits Kith.
func (r root) Quit() *dbus.Error {
	if r.s.o.Quit != nil {
		r.s.o.Quit()
	}
	return nil
}

// player implements org.mpris.MediaPlayer2.Player.
type player struct{ s *Service }

func (p player) Next() *dbus.Error     { p.s.o.Player.Next(); return nil }
func (p player) Previous() *dbus.Error { p.s.o.Player.Previous(); return nil }
func (p player) PlayPause() *dbus.Error {
	p.s.o.Player.TogglePause()
	return nil
}
func (p player) Play() *dbus.Error {
	if !p.s.o.Player.State().Playing {
		p.s.o.Player.TogglePause()
	}
	return nil
}
func (p player) Pause() *dbus.Error {
	if p.s.o.Player.State().Playing {
		p.s.o.Player.TogglePause()
	}
	return nil
}
func (p player) Stop() *dbus.Error { return p.Pause() }

// SeekBy is MPRIS's Seek: move by offset microseconds.
func (p player) SeekBy(offset int64) *dbus.Error {
	st := p.s.o.Player.State()
	pos := max(0, st.Position+time.Duration(offset)*time.Microsecond)
	if st.Duration > 0 && pos > st.Duration {
		p.s.o.Player.Next()
		return nil
	}
	p.s.o.Player.Seek(pos)
	return nil
}

// SetPosition jumps to pos microseconds in track (ignored for another track).
func (p player) SetPosition(track dbus.ObjectPath, pos int64) *dbus.Error {
	st := p.s.o.Player.State()
	if track != trackID(st) || pos < 0 || (st.Duration > 0 && time.Duration(pos)*time.Microsecond > st.Duration) {
		return nil
	}
	p.s.o.Player.Seek(time.Duration(pos) * time.Microsecond)
	return nil
}

// OpenUri is not supported: Kith plays titles from its library only.
func (p player) OpenUri(string) *dbus.Error {
	return dbus.MakeFailedError(fmt.Errorf("kith plays titles from its library only"))
}
