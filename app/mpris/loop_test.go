package mpris

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/share/sealed"
)

func (f *fakePlayer) SetRepeat(r app.Repeat) {
	f.do("repeat", func(s *app.PlayerState) { s.Repeat = r })
}
func (f *fakePlayer) Enqueue(context.Context, []sealed.ContentID) error { return nil }
func (f *fakePlayer) PlayNext(_ context.Context, cs []sealed.ContentID) error {
	f.do("play next", func(s *app.PlayerState) {
		for _, c := range cs {
			s.Queue = append(s.Queue, app.QueueItem{Key: uint64(len(s.Queue) + 1), Content: c})
		}
	})
	return nil
}
func (f *fakePlayer) RemoveFromQueue(uint64)  {}
func (f *fakePlayer) MoveInQueue(uint64, int) {}
func (f *fakePlayer) PlayQueued(uint64)       {}
func (f *fakePlayer) SetShuffle(on bool) {
	f.do("shuffle", func(s *app.PlayerState) { s.Shuffle = on })
}

// TestMPRISLoopShuffle: the desktop sets repeat (LoopStatus) and shuffle
// through MPRIS, and sees the app's own changes.
func TestMPRISLoopShuffle(t *testing.T) {
	addr := privateBus(t)
	fp := &fakePlayer{st: app.PlayerState{Title: "Kettle Song", Volume: 1}}
	s := New(Options{Player: fp, Address: addr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	client, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for deadline := time.Now().Add(30 * time.Second); s.Name() == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the service never took its name")
		}
	}
	obj := client.Object(busName, path)
	waitProp := func(p string, want any) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			v, err := obj.GetProperty(ifacePlayer + "." + p)
			if err == nil && v.Value() == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v (%v), want %v", p, v.Value(), err, want)
			}
		}
	}
	waitProp("LoopStatus", "None")
	waitProp("Shuffle", false)
	if err := obj.SetProperty(ifacePlayer+".LoopStatus", dbus.MakeVariant("Playlist")); err != nil {
		t.Fatal(err)
	}
	if r := fp.State().Repeat; r != app.RepeatAll {
		t.Errorf("repeat %v after LoopStatus=Playlist", r)
	}
	if err := obj.SetProperty(ifacePlayer+".Shuffle", dbus.MakeVariant(true)); err != nil {
		t.Fatal(err)
	}
	if !fp.State().Shuffle {
		t.Error("shuffle off after Shuffle=true")
	}
	if err := obj.SetProperty(ifacePlayer+".LoopStatus", dbus.MakeVariant("Forever")); err == nil {
		t.Error("LoopStatus=Forever accepted")
	}
	fp.SetRepeat(app.RepeatOne) // from the app's own button
	waitProp("LoopStatus", "Track")

	// CanGoNext follows the queue: nothing after the last title unless it repeats.
	fp.SetRepeat(app.RepeatOff)
	fp.PlayNext(ctx, []sealed.ContentID{{1}})
	waitProp("CanGoNext", false)
	waitProp("CanGoPrevious", true)
	fp.PlayNext(ctx, []sealed.ContentID{{2}})
	waitProp("CanGoNext", true)
}
