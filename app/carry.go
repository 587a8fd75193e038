package app

import (
	"sync"
	"sync/atomic"
	"time"
)

// carryMax bounds how long a player state waits for the video's next frame
// before it is applied on its own (frames come every 17–42 ms).
const carryMax = 100 * time.Millisecond

// playerStates hands the player's states to the UI goroutine. Each
// change of what the bar shows refreshes canvas objects, and the window
// then repaints as a whole: while a video plays that is a frame's repaint
// again (under software GL ~15 ms of the UI goroutine and the CPU), so a
// position update (4 a second) landing between two frames doubled the
// painting for that frame, and a frame or any other callback arriving
// meanwhile waited for it. While frames flow, a state is therefore
// carried to the video's next frame and applied in the same callback
// that shows it: one repaint for both. A state that waits longer than
// carryMax (no frame came: the video stalled or ended) is applied on its
// own, and states are numbered so that an older one never replaces a
// newer one on the screen.
type playerStates struct {
	seq atomic.Uint64 // numbers the states read, in order
	// after runs f once d has passed (time.AfterFunc); nil: never carry
	// (tests that run everything inline on one goroutine).
	after func(d time.Duration, f func())

	mu      sync.Mutex
	carried PlayerState
	cseq    uint64 // carried's number; 0: nothing carried

	shown uint64 // UI goroutine: the number of the state on the screen
}

// playerChanged reads the player's state and applies it on the UI
// goroutine: with the video's next frame while frames flow, else in a
// callback of its own (Serve's goroutine).
func (u *UI) playerChanged() {
	st := u.b.Player.State()
	seq := u.ps.seq.Add(1)
	if u.ps.after != nil && u.video != nil && st.Video && st.Playing && u.video.flowing() {
		u.ps.mu.Lock()
		u.ps.carried, u.ps.cseq = st, seq
		u.ps.mu.Unlock()
		u.ps.after(carryMax, func() {
			u.ps.mu.Lock()
			waiting := u.ps.cseq == seq
			u.ps.mu.Unlock()
			if waiting { // no frame took it
				u.do(u.applyCarried)
			}
		})
		return
	}
	u.do(func() { u.applyPlayerState(seq, st) })
}

// applyCarried applies the state carried to the next frame, if one waits
// (UI goroutine).
func (u *UI) applyCarried() {
	u.ps.mu.Lock()
	st, seq := u.ps.carried, u.ps.cseq
	u.ps.carried, u.ps.cseq = PlayerState{}, 0
	u.ps.mu.Unlock()
	if seq != 0 {
		u.applyPlayerState(seq, st)
	}
}

// applyPlayerState shows the state numbered seq unless a newer one is
// shown already (UI goroutine).
func (u *UI) applyPlayerState(seq uint64, st PlayerState) {
	if seq <= u.ps.shown {
		return
	}
	u.ps.shown = seq
	u.applyPlayer(st)
}
