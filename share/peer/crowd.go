package peer

import (
	"encoding/binary"
	"hash/fnv"

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
	seen := make(map[identity.ID]bool, len(ids))
	crowd := make([]identity.ID, 0, len(ids))
	for _, id := range ids {
		if id == "" || id == f.o.Self || seen[id] {
			continue
		}
		seen[id] = true
		crowd = append(crowd, id)
	}
	f.mu.Lock()
	f.crowd, f.mine = crowd, nil
	f.mu.Unlock()
	f.poke()
}

// activePeersLocked reports whether a usable peer downloads this content too.
func (f *Fetcher) activePeersLocked() bool {
	for _, s := range f.srcs {
		if !s.origin && !s.banned && !s.dropped && s.active {
			return true
		}
	}
	return false
}

// mineLocked reports whether this device is the one of its crowd that
// should fetch chunk i from the origin: rendezvous hashing over itself,
// its active peers and the crowd, so devices that see the same crowd
// split the origin's chunks instead of each taking them all.
func (f *Fetcher) mineLocked(i int) bool {
	if f.o.Self == "" {
		return true
	}
	if f.mine == nil {
		f.mine = make([]int8, f.m.NumChunks())
		f.idle = map[identity.ID]bool{}
		for _, s := range f.srcs {
			if !s.origin && (s.banned || s.dropped || (s.known && !s.active)) {
				f.idle[s.id] = true
			}
		}
	}
	if v := f.mine[i]; v != 0 {
		return v == 1
	}
	mine := f.ownerLocked(i)
	f.mine[i] = 2
	if mine {
		f.mine[i] = 1
	}
	return mine
}

// ownerLocked computes mineLocked's answer.
func (f *Fetcher) ownerLocked(i int) bool {
	best := rendezvous(f.o.Self, i)
	for _, s := range f.srcs {
		if !s.origin && !f.idle[s.id] && s.active && rendezvous(s.id, i) < best {
			return false
		}
	}
	for _, id := range f.crowd {
		if !f.idle[id] && rendezvous(id, i) < best {
			return false
		}
	}
	return true
}

func rendezvous(id identity.ID, i int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	h.Write(b[:])
	return h.Sum64()
}
