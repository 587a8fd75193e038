package player

import "time"

// setOnFirstPCM installs a hook called when a title's first frames are
// handed to the output (benchmarks measure time to first PCM with it).
func (p *Player) setOnFirstPCM(f func(id string, at time.Time)) {
	p.pump.mu.Lock()
	p.pump.onFirstPCM = f
	p.pump.mu.Unlock()
}
