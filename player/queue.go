package player

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
)

// MaxQueue is the most titles the queue holds; titles added beyond it are
// left out with an EventError.
const MaxQueue = 100_000

// entry is one place in the queue. Its key stays the same while the entry
// moves, so an edit made from a queue the app showed a moment ago still
// names the right place even if the same title is queued twice.
type entry struct {
	id  string
	key uint64
}

// QueueItem is one place in the queue, as Queue reports it.
type QueueItem struct {
	// Key names this place in the queue for Remove, Move and Jump; it is
	// unique among the queue's entries and never reused by this player.
	Key     uint64
	TitleID string
}

// Queue returns what plays, in order, and the index of the current title
// in it (the same snapshot for both).
func (p *Player) Queue() (items []QueueItem, index int) {
	p.statusMu.Lock()
	defer p.statusMu.Unlock()
	return slices.Clone(p.items), p.status.Index
}

// PlayNext puts titles right after the current one, without interrupting
// it; if nothing is playing, the first of them starts.
func (p *Player) PlayNext(titleIDs ...string) {
	ids := append([]string(nil), titleIDs...)
	p.do(func(ctx context.Context) {
		at := len(p.queue)
		if p.index < len(p.queue) {
			at = p.index + 1
		}
		p.insert(ctx, at, ids)
	})
}

// Remove takes the entry key out of the queue. Removing the title that
// plays moves on to the one that took its place; anything else plays on
// untouched.
func (p *Player) Remove(key uint64) {
	p.do(func(ctx context.Context) {
		i, ok := p.indexOf(key)
		if !ok {
			return
		}
		current := i == p.index && p.active()
		cur := p.currentKey()
		p.queue = slices.Delete(p.queue, i, i+1)
		if p.plain != nil {
			if j := slices.IndexFunc(p.plain, func(e entry) bool { return e.key == key }); j >= 0 {
				p.plain = slices.Delete(p.plain, j, j+1)
			}
		}
		if current {
			switch {
			case i < len(p.queue):
				p.start(ctx, i, -1)
			case p.repeat == RepeatAll && len(p.queue) > 0:
				p.start(ctx, 0, -1)
			default:
				p.index = max(0, i-1)
				p.stop(StateStopped, nil)
			}
			p.publishQueue()
			return
		}
		if i < p.index || p.index >= len(p.queue) {
			p.index = max(0, p.index-1)
		}
		p.queueEdited(ctx, cur, i)
	})
}

// Move puts the entry key at index to (clamped to the queue), keeping the
// current title playing.
func (p *Player) Move(key uint64, to int) {
	p.do(func(ctx context.Context) {
		i, ok := p.indexOf(key)
		if !ok {
			return
		}
		to = max(0, min(to, len(p.queue)-1))
		if to == i {
			return
		}
		cur := p.currentKey()
		e := p.queue[i]
		p.queue = slices.Insert(slices.Delete(p.queue, i, i+1), to, e)
		p.queueEdited(ctx, cur, -1)
	})
}

// Jump plays the entry key now.
func (p *Player) Jump(key uint64) {
	p.do(func(ctx context.Context) {
		if i, ok := p.indexOf(key); ok {
			p.start(ctx, i, -1)
			p.publishQueue()
		}
	})
}

// SetShuffle turns shuffling on or off at once: on puts the titles after
// the current one in a random order (and Play shuffles all but the first);
// off puts the queue back in the order it was given, with the edits made
// since (additions, removals; moves made while shuffled are undone).
func (p *Player) SetShuffle(on bool) {
	p.do(func(ctx context.Context) {
		if on == p.shuffle {
			return
		}
		cur := p.currentKey()
		p.shuffle = on
		if on {
			p.plain = slices.Clone(p.queue)
			if p.index+1 < len(p.queue) {
				shuffle(p.queue[p.index+1:])
			}
		} else {
			p.queue, p.plain = p.plain, nil
		}
		p.queueEdited(ctx, cur, -1)
	})
}

func shuffle(es []entry) {
	rand.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
}

// setQueue replaces the queue (Play).
func (p *Player) setQueue(ids []string) {
	p.queue, p.plain, p.index = p.entries(ids), nil, 0
	if p.shuffle {
		p.plain = slices.Clone(p.queue)
		if len(p.queue) > 1 {
			shuffle(p.queue[1:])
		}
	}
	p.publishQueue()
}

// entries gives ids fresh keys, up to what the queue has room for.
func (p *Player) entries(ids []string) []entry {
	if room := MaxQueue - len(p.queue); len(ids) > room {
		p.fail("", fmt.Errorf("the queue holds %d titles: %d left out", MaxQueue, len(ids)-max(0, room)))
		ids = ids[:max(0, room)]
	}
	es := make([]entry, len(ids))
	for i, id := range ids {
		p.lastKey++
		es[i] = entry{id: id, key: p.lastKey}
	}
	return es
}

// insert puts ids at queue index at (Enqueue, PlayNext); while shuffled
// they go after the current title in the given order too. If nothing
// plays, the first of them starts.
func (p *Player) insert(ctx context.Context, at int, ids []string) {
	es := p.entries(ids)
	if len(es) == 0 {
		return
	}
	cur := p.currentKey()
	p.queue = slices.Insert(p.queue, at, es...)
	if p.plain != nil {
		j := len(p.plain)
		if at < len(p.queue)-len(es) { // play next: after the current one
			if k := slices.IndexFunc(p.plain, func(e entry) bool { return e.key == cur }); k >= 0 {
				j = k + 1
			}
		}
		p.plain = slices.Insert(p.plain, j, es...)
	}
	if p.cur == nil && !p.active() && p.state != StateNoOutput {
		p.start(ctx, at, -1)
		p.publishQueue()
		return
	}
	p.queueEdited(ctx, cur, -1)
}

// active reports that a title is playing, paused or being opened.
func (p *Player) active() bool {
	return p.cur != nil || p.waitNext || p.state == StateBuffering || p.state == StatePlaying
}

// currentKey is the key of the entry at the current index (0 if none).
func (p *Player) currentKey() uint64 {
	if p.index >= 0 && p.index < len(p.queue) {
		return p.queue[p.index].key
	}
	return 0
}

func (p *Player) indexOf(key uint64) (int, bool) {
	if key == 0 {
		return 0, false
	}
	i := slices.IndexFunc(p.queue, func(e entry) bool { return e.key == key })
	return i, i >= 0
}

// queueEdited follows an edit that kept the current title: the current
// index follows its entry, the opened tracks learn their new places (a
// track whose entry was removed at index gone plays as if it came just
// before that place), the prepared next title is redone if it changed, and
// the app is told.
func (p *Player) queueEdited(ctx context.Context, cur uint64, gone int) {
	if i, ok := p.indexOf(cur); ok {
		p.index = i
	}
	for _, t := range []*track{p.cur, p.nextT, p.heardT} {
		if t == nil {
			continue
		}
		if i, ok := p.indexOf(t.key); ok {
			t.index = i
		} else if gone >= 0 && t.key != 0 {
			t.key, t.index = 0, gone-1
		}
	}
	p.prepareNext(ctx)
	p.publishQueue()
}

// publishQueue makes the queue visible to Queue and Status and tells
// subscribers (EventQueue).
func (p *Player) publishQueue() {
	items := make([]QueueItem, len(p.queue))
	for i, e := range p.queue {
		items[i] = QueueItem{Key: e.key, TitleID: e.id}
	}
	p.statusMu.Lock()
	p.items = items
	p.statusMu.Unlock()
	p.setStatus()
	p.emit(Event{Kind: EventQueue, Index: p.index})
}
