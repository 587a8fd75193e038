package main

import "fyne.io/fyne/v2"

// stoppedHooks is the part of Fyne's lifecycle (the concrete type behind
// App.Lifecycle, fyne.io/fyne/v2/internal/app.Lifecycle in v2.7.1) that
// holds what runs when the app stops: the app's own hook (SetOnStopped) and
// Fyne's, which writes preferences that changed too soon after the last
// write (the second of the window's width and height saved on quit).
type stoppedHooks interface {
	fyne.Lifecycle
	OnStopped() func() // both hooks as one func, nil if neither is set
	SetOnStoppedHookExecuted(func())
}

// takeStoppedHooks takes the stopped hooks out of a's lifecycle and returns
// them (nil if there are none, or if this Fyne's lifecycle is not the one
// above); run the result once the window's loop has returned (after
// ShowAndRun). A hook set with SetOnStopped after this is queued by the
// loop again, with the race below: set it before, or run it after the loop.
//
// Why: Fyne's GLFW driver (v2.7.1, internal/driver/glfw/loop.go, runGL)
// queues these hooks to the lifecycle goroutine as its loop ends, and that
// goroutine hands them back to the loop (runOnMainWithWait) while the loop
// drains and closes the very queue it sends on, with no lock between its
// "drained?" check and its send. Checked just before the loop marks the
// queue drained and sent just after the loop closed it, the send panics —
// "send on closed channel" in a goroutine of Fyne's, so kith exits 2 when
// the desktop ends it with SIGTERM at logout, or when its window is closed
// (make test's TestScreenshots saw it once). Sent after the loop's last
// drain but before its close, it is never received: that goroutine waits
// for ever, and so does ShowAndRun, and kith never exits. Taken by the
// drain, the hooks are dropped unrun (the preferences are not written).
// With nothing queued none of the three can happen, and the preferences are
// written on every exit.
func takeStoppedHooks(a fyne.App) func() {
	lc, ok := a.Lifecycle().(stoppedHooks)
	if !ok {
		return nil // another Fyne: it runs its hooks its own way
	}
	f := lc.OnStopped()
	lc.SetOnStopped(nil)
	lc.SetOnStoppedHookExecuted(nil)
	return f
}
