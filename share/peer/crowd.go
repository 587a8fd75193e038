package peer

import (
	"time"

	"github.com/kith-media/kith/share/identity"
)

// SetCrowd tells the fetcher which other devices download this content
// now, connected to it or not (for a Node: the directory's incomplete
// holders). With FetchOptions.Self set, the origin's chunks are split by
// rendezvous hashing over this device, the crowd and the active peers, so
// a crowd bigger than one device's peer set still takes each chunk from
// the origin about once. A crowd member this fetcher is connected to and
// that says it is not downloading (or that it banned or dropped) does not
// count. Each call replaces the previous crowd; it may be called while
// Run runs.
func (f *Fetcher) SetCrowd(ids []identity.ID) {
	f.mu.Lock()
	f.core.SetCrowd(ids)
	f.mu.Unlock()
	f.poke()
}

// Unfed is how long the peers have brought this download nothing while
// none of them has or is fetching a chunk it needs (sched.Core.Unfed): a
// Node connects such a download to one more peer a resupply round.
func (f *Fetcher) Unfed() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.core.Unfed(f.clk.Now())
}

// Contended counts the peers' busy answers that said their upload slots
// were full (sched.Core.Contended): a Node connects a download that keeps
// meeting them to one more peer.
func (f *Fetcher) Contended() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.core.Contended()
}
