package library

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// Held is one content the library holds (fully or partly) with its titles.
type Held struct {
	Status
	Titles []Title // may be empty (ciphertext held without catalog data)
}

// heldRows is HeldContent's read of the index, kept while heldGen is gen.
type heldRows struct {
	gen  uint64
	rows []Held // as stored: Have and Complete before the live overlay
}

// HeldContent lists every content with a manifest in the library, joined
// with its titles. The list is read from the index once and kept until a
// content or title row changes (heldChanged): a node's heartbeat and every
// peer's offer request asked the same question of SQLite again (a join,
// prepared anew on each read connection: 0.4 ms of CPU a call, 3 % of a
// 200-device crowd's CPU at a 5 s heartbeat), while the answer changes only
// when a download starts, completes or flushes, or a title or content is
// added or removed. A loaded content's chunks present now are overlaid on
// every call (live), as before, so the list does not lag a download.
func (l *Library) HeldContent(ctx context.Context) ([]Held, error) {
	l.mu.Lock()
	c, gen := l.held, l.heldGen
	l.mu.Unlock()
	if c == nil || c.gen != gen {
		rows, err := l.readHeld(ctx)
		if err != nil {
			return nil, err
		}
		c = &heldRows{gen: gen, rows: rows}
		l.mu.Lock()
		if l.heldGen == gen { // nothing changed while we read: an older read is never kept
			l.held = c
		}
		l.mu.Unlock()
	}
	out := make([]Held, len(c.rows))
	for i := range c.rows {
		out[i] = c.rows[i]
		out[i].Titles = slices.Clone(c.rows[i].Titles) // the caller's to change
		l.live(&out[i].Status)
	}
	return out, nil
}

// heldChanged drops HeldContent's list; every write to the content or
// titles table calls it once the write is done (after: a read begun before
// it then sees a newer generation and is not kept).
func (l *Library) heldChanged() {
	l.mu.Lock()
	l.held = nil
	l.heldGen++
	l.mu.Unlock()
}

// readHeld reads HeldContent's list from the index.
func (l *Library) readHeld(ctx context.Context) ([]Held, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT c.content_id, c.have, c.num_chunks, c.file_size, c.complete,
		t.id, t.name, t.artist, t.media_type, t.size, t.added_at, t.duration_ms, t.width, t.height
		FROM content c LEFT JOIN titles t ON t.content_id = c.content_id ORDER BY c.content_id, t.id`)
	if err != nil {
		return nil, fmt.Errorf("listing held content: %w", err)
	}
	defer rows.Close()
	var out []Held
	for rows.Next() {
		var s Status
		var cid string
		var id, name, artist, mt sql.NullString
		var size, added, dur, w, ht sql.NullInt64
		if err := rows.Scan(&cid, &s.Have, &s.Total, &s.Size, &s.Complete, &id, &name, &artist, &mt, &size, &added, &dur, &w, &ht); err != nil {
			return nil, fmt.Errorf("listing held content: %w", err)
		}
		if s.ContentID, err = sealed.ParseContentID(cid); err != nil {
			return nil, fmt.Errorf("listing held content: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ContentID != s.ContentID {
			out = append(out, Held{Status: s})
		}
		if id.Valid {
			h := &out[len(out)-1]
			h.Titles = append(h.Titles, Title{ID: id.String, Name: name.String, Artist: artist.String,
				MediaType: mt.String, ContentID: s.ContentID, Size: size.Int64, Added: time.UnixMilli(added.Int64),
				Tags: Tags{Duration: time.Duration(dur.Int64) * time.Millisecond, Width: int(w.Int64), Height: int(ht.Int64)}})
		}
	}
	return out, rows.Err()
}

// Policies returns every stored policy by title ID ("" is the library
// default). Like HeldContent's list, the map is read once and kept until a
// policy or title changes (policyGen): the heartbeat and peers' offer
// requests ask for it with the list. Each caller gets its own copy
// (Policy.clone), lists included.
func (l *Library) Policies(ctx context.Context) (map[string]Policy, error) {
	l.mu.Lock()
	c, gen := l.pols, l.policyGen
	if l.polsGen != gen {
		c = nil
	}
	l.mu.Unlock()
	if c == nil {
		pols, err := l.policies(ctx)
		if err != nil {
			return nil, err
		}
		delete(pols, resumeKey)
		c = pols
		l.mu.Lock()
		if l.policyGen == gen {
			l.pols, l.polsGen = c, gen
		}
		l.mu.Unlock()
	}
	out := make(map[string]Policy, len(c))
	for id, p := range c {
		out[id] = p.clone()
	}
	return out, nil
}
