package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/kith-media/kith/share/sealed"
)

// The Music screen's Queue view (Playlists → "Queue") lists what the player
// plays, the current title marked ▶. Selecting a row makes the playlist
// item buttons act on the queue: up, down, remove; Play plays the selected
// item now. "Play next" and "Add to queue" put the album shown (or the
// playlist) after the current title or at the end. Every edit goes to the
// player, which keeps playing the current title; the view follows the
// player's queue as it reports it, and the selection follows its item.

// queueTrack is the queue's i-th item as a track (a title not in the
// library shows the start of its content ID).
func (s *musicScreen) queueTrack(i int) Track {
	c := s.queue[i].Content
	if t, ok := s.ix.byContent[c]; ok {
		return s.ix.tracks[t]
	}
	return Track{Content: c, Name: c.String()[:16]}
}

// queueSelected is the index of the selected queue item (-1 none).
func (s *musicScreen) queueSelected() int {
	if s.qKey == 0 {
		return -1
	}
	return slices.IndexFunc(s.queue, func(it QueueItem) bool { return it.Key == s.qKey })
}

// selectQueued selects queue row id (the tracks list's OnSelected).
func (s *musicScreen) selectQueued(id int) {
	if id >= 0 && id < len(s.queue) {
		s.qKey = s.queue[id].Key
	}
	s.pl.buttons()
	s.showTracks()
}

// applyQueue shows the player's queue if it changed (UI goroutine).
func (s *musicScreen) applyQueue(st PlayerState) {
	if slices.Equal(st.Queue, s.queue) && st.Index == s.qIndex {
		return
	}
	s.showQueue(st.Queue, st.Index)
}

// showQueue shows q with item index current.
func (s *musicScreen) showQueue(q []QueueItem, index int) {
	s.queue, s.qIndex = q, index
	if !s.pl.showQueue {
		return
	}
	if i := s.queueSelected(); i >= 0 {
		s.trackL.Select(i) // the selection follows its item
	} else if s.qKey != 0 {
		s.qKey = 0
		s.trackL.UnselectAll()
	}
	s.pl.buttons()
	s.showTracks()
}

// moveQueued moves the selected queue item by d places. The view moves it
// at once (a second tap acts on the order it shows); the player's report
// confirms it.
func (s *musicScreen) moveQueued(d int) {
	i := s.queueSelected()
	if i < 0 || i+d < 0 || i+d >= len(s.queue) {
		return
	}
	s.u.b.Player.MoveInQueue(s.qKey, i+d)
	q := slices.Clone(s.queue)
	it := q[i]
	q = slices.Insert(slices.Delete(q, i, i+1), i+d, it)
	index := s.qIndex
	if index >= 0 && index < len(q) { // the current item keeps its mark
		cur := s.queue[index].Key
		index = slices.IndexFunc(q, func(it QueueItem) bool { return it.Key == cur })
	}
	s.showQueue(q, index)
}

// removeQueued takes the selected item out of the queue; the one after it
// is selected next.
func (s *musicScreen) removeQueued() {
	i := s.queueSelected()
	if i < 0 {
		return
	}
	key := s.qKey
	s.qKey = 0
	if i+1 < len(s.queue) {
		s.qKey = s.queue[i+1].Key
	} else if i > 0 {
		s.qKey = s.queue[i-1].Key
	}
	s.u.b.Player.RemoveFromQueue(key)
	q := slices.Delete(slices.Clone(s.queue), i, i+1)
	index := s.qIndex
	if i < index {
		index--
	}
	s.showQueue(q, index)
}

// playQueued plays the selected queue item now.
func (s *musicScreen) playQueued() {
	if s.queueSelected() >= 0 {
		s.u.b.Player.PlayQueued(s.qKey)
	}
}

// shownTitles are the album shown's titles, or the playlist's.
func (s *musicScreen) shownTitles() []sealed.ContentID {
	var q []sealed.ContentID
	if s.pl.cur != nil {
		q, _ = s.pl.queue(0)
	} else if s.albumAt >= 0 && s.albumAt < len(s.albums) {
		for _, i := range s.albums[s.albumAt].Tracks {
			q = append(q, s.ix.tracks[i].Content)
		}
	}
	return q
}

// addToQueue adds the album shown (or the playlist) at the end of the
// queue, or right after the current title (next).
func (s *musicScreen) addToQueue(next bool) {
	q := s.shownTitles()
	if len(q) == 0 {
		return
	}
	s.u.background(func(ctx context.Context) func() {
		var err error
		if next {
			err = s.u.b.Player.PlayNext(ctx, q)
		} else {
			err = s.u.b.Player.Enqueue(ctx, q)
		}
		return func() {
			if err != nil {
				s.status.SetText(errText(err))
				return
			}
			where := "to the queue"
			if next {
				where = "to play next"
			}
			s.status.SetText(fmt.Sprintf("Added %s %s.", count(len(q), "track"), where))
		}
	})
}
