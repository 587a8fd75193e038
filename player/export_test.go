package player

import "time"

// setOnFirstPCM installs a hook called when a title's first frames are
// handed to the output (benchmarks measure time to first PCM with it).
func (p *Player) setOnFirstPCM(f func(id string, at time.Time)) {
	p.pump.mu.Lock()
	p.pump.onFirstPCM = f
	p.pump.mu.Unlock()
}

// written returns the frames from the source the device output has
// written since its last drop, and of those the frames beyond its first
// buffer full (written only as the sink took frames).
// recoveries counts the underruns it recovered from.
func (o *DeviceOutput) written() (all, taken int64, recoveries int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queued, max(0, o.queued-int64(o.buffer)), o.recoveries
}
