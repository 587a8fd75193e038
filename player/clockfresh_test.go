package player

import (
	"fmt"
	"testing"
	"time"
)

// TestPulseFreshClock plays a title on a PulseAudio server and device that
// are new, as when Kith starts, with no other stream on the null sink (a
// recorder keeps the sink running and hides this): the player's clock (the
// heard position a video is presented on) must never go back, never jump
// ahead of the wall clock by more than a frame's lateness allowance
// (40 ms), and never stand still for more than 100 ms while the device
// takes more than 100 ms of frames beyond its first buffer full. On the sink's first render the plugin's
// delay fell to 0 for a second or more and the clock stood still, stepped
// and went back (issue 17: a video's first frames were dropped as late).
func TestPulseFreshClock(t *testing.T) {
	runFreshTries(t, "TestPulseFreshClockChild", rate, 2)
}

// clockReading is the player's clock and the device's written frames at
// one instant.
type clockReading struct {
	at    time.Time
	pos   time.Duration
	taken int64 // frames written beyond the device's first buffer full
	xruns int   // underruns the device recovered from so far
}

// TestPulseFreshClockChild is TestPulseFreshClock's child process.
func TestPulseFreshClockChild(t *testing.T) {
	freshChild(t)
	st := sealTitle(t, "a", toneWAV(rate, 5*time.Second, 440), "audio/wav", 0)
	p, _ := realPlayer(t, &sealedSource{titles: map[string]*sealedTitle{"a": st}}, nil)
	out := p.out.(*DeviceOutput)
	p.Play("a")
	// Read the clock as the video presenter does, until the title is
	// nearly all written (its end is not the subject here).
	var rs []clockReading
	deadline := time.Now().Add(30 * time.Second)
	for {
		all, taken, xruns := out.written()
		if all >= int64(4500*rate/1000) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the device took %d frames in 30 s, want the title's 5 s", all)
		}
		before := time.Now()
		tr, pos, idle, _ := p.pump.heard(p.out.Buffered)
		after := time.Now()
		if after.Sub(before) > 5*time.Millisecond {
			// This goroutine was descheduled while reading (a loaded
			// machine): the reading's instant is not known to within the
			// 40 ms compared below, so it is not used.
			time.Sleep(2 * time.Millisecond)
			continue
		}
		r := clockReading{at: before.Add(after.Sub(before) / 2), taken: taken, xruns: xruns}
		if tr != nil && !idle {
			r.pos = tr.stream.TimeAt(pos)
		}
		rs = append(rs, r)
		time.Sleep(2 * time.Millisecond)
	}
	frames := func(d time.Duration) int64 { return int64(d.Seconds() * rate) }
	var problems []string
	xruns := 0
	still := 0 // first reading of the current value
	for i := 1; i < len(rs); i++ {
		a, b := rs[i-1], rs[i]
		if b.xruns != a.xruns {
			// The device ran dry (this process starved on a loaded
			// machine) and dropped what it held: the sound itself
			// skipped, and the clock with it.
			xruns++
			still = i
			continue
		}
		if b.pos < a.pos {
			problems = append(problems, fmt.Sprintf("at %s the clock went back from %s to %s",
				ms(b.at.Sub(rs[0].at)), ms(a.pos), ms(b.pos)))
		}
		if ahead := (b.pos - a.pos) - b.at.Sub(a.at); ahead > 40*time.Millisecond {
			problems = append(problems, fmt.Sprintf("at %s the clock jumped %s ahead of the wall clock (%s → %s)",
				ms(b.at.Sub(rs[0].at)), ms(ahead), ms(a.pos), ms(b.pos)))
		}
		if b.pos != rs[still].pos {
			still = i
			continue
		}
		s := rs[still]
		if b.at.Sub(s.at) > 100*time.Millisecond && b.taken-s.taken > frames(100*time.Millisecond) {
			problems = append(problems, fmt.Sprintf("at %s the clock stood at %s for %s while the device took %s of frames",
				ms(s.at.Sub(rs[0].at)), ms(s.pos), ms(b.at.Sub(s.at)), ms(time.Duration(b.taken-s.taken)*time.Second/rate)))
			still = i // report each stand once
		}
	}
	last := rs[len(rs)-1]
	t.Logf("measured: %d clock readings over %s, clock at %s, %d underruns", len(rs), ms(last.at.Sub(rs[0].at)), ms(last.pos), xruns)
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("… %d more", len(problems)-10))
		}
		t.Errorf("the clock is not smooth on a fresh stream:\n%s", joinLines(problems))
	}
}

func joinLines(s []string) string {
	out := ""
	for _, l := range s {
		out += "  " + l + "\n"
	}
	return out
}
