package app

import (
	"context"
	"sync/atomic"
	"testing"
)

// TestNothingPostedAfterStop: background work that ends after the UI
// stopped (its Serve's context ended: the window is closing) posts
// nothing to the window. On the desktop such a post can come after Fyne's
// loop ended, where Fyne runs it on the poster's goroutine with GLFW
// terminated, or panics sending it into its closed queue.
func TestNothingPostedAfterStop(t *testing.T) {
	u := newTestUI(t, newFakeWorld())
	u.sync = false // background work on its own goroutine, as in the app
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- u.Serve(ctx) }()
	release := make(chan struct{})
	var applied atomic.Bool
	u.background(func(context.Context) func() {
		<-release
		return func() { applied.Store(true) }
	})
	cancel()
	<-u.ctx.Done() // the UI stopped: Serve now waits for the work
	close(release)
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if applied.Load() {
		t.Error("background work that ended after the UI stopped was applied to the window")
	}
	u.do(func() { applied.Store(true) })
	if applied.Load() {
		t.Error("a post after the UI stopped ran")
	}
}
