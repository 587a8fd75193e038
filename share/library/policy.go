package library

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kith-media/kith/share/sealed"
)

// Policy is a share policy as stored; it has the same fields as
// directory.Policy (convert with directory.Policy(p)).
type Policy struct {
	Mode  string   `json:"mode"` // "anyone" | "household" | "list" | "nobody"
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// clone is p with its own Allow and Deny: the library keeps policies in
// memory (Policies, ContentPolicy) and hands each caller a copy, so a
// caller that edits a list cannot change the policy every later offer
// and permit is decided by.
func (p Policy) clone() Policy {
	p.Allow, p.Deny = slices.Clone(p.Allow), slices.Clone(p.Deny)
	return p
}

// DefaultPolicy is used when neither the title nor the library sets one.
var DefaultPolicy = Policy{Mode: "anyone"}

// resumeKey is the policies row that, while sharing is switched off,
// keeps the default policy to restore when it is switched on again (no
// title ID is empty or starts with '!').
const resumeKey = "!sharing-on"

// SetPolicy sets the share policy of a title; titleID "" sets the default
// (while sharing is off: the default it returns to when switched on).
func (l *Library) SetPolicy(ctx context.Context, titleID string, p Policy) error {
	if strings.HasPrefix(titleID, "!") {
		return fmt.Errorf("setting policy of %q: not a title ID", titleID)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	q := `INSERT INTO policies(title_id, policy) VALUES (?, ?) ON CONFLICT(title_id) DO UPDATE SET policy = excluded.policy`
	if titleID == "" {
		// One statement, so it cannot race with SetSharing: while sharing
		// is off the row set aside for later is the one that changes.
		q = `INSERT INTO policies(title_id, policy)
			VALUES (CASE WHEN EXISTS (SELECT 1 FROM policies WHERE title_id = '` + resumeKey + `') THEN '` + resumeKey + `' ELSE ? END, ?)
			ON CONFLICT(title_id) DO UPDATE SET policy = excluded.policy`
	}
	if _, err := l.w.ExecContext(ctx, q, titleID, string(b)); err != nil {
		return fmt.Errorf("setting policy of %q: %w", titleID, err)
	}
	l.forgetPolicies()
	return nil
}

// SetSharing switches sharing off (the default policy becomes "nobody";
// titles with their own policy keep it) or back on (the default before,
// or the one set while off, returns). It is stored, so it survives a
// restart.
func (l *Library) SetSharing(ctx context.Context, on bool) error {
	nobody, err := json.Marshal(Policy{Mode: "nobody"})
	if err != nil {
		return err
	}
	def, err := json.Marshal(DefaultPolicy)
	if err != nil {
		return err
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("switching sharing: %w", err)
	}
	defer tx.Rollback()
	type step struct {
		q    string
		args []any
	}
	var steps []step
	if on {
		steps = []step{
			{q: `INSERT INTO policies(title_id, policy) SELECT '', policy FROM policies WHERE title_id = '` + resumeKey + `'
				ON CONFLICT(title_id) DO UPDATE SET policy = excluded.policy`},
			{q: `DELETE FROM policies WHERE title_id = '` + resumeKey + `'`},
		}
	} else {
		steps = []step{
			{`INSERT OR IGNORE INTO policies(title_id, policy)
				VALUES ('` + resumeKey + `', COALESCE((SELECT policy FROM policies WHERE title_id = ''), ?))`, []any{string(def)}},
			{`INSERT INTO policies(title_id, policy) VALUES ('', ?) ON CONFLICT(title_id) DO UPDATE SET policy = excluded.policy`, []any{string(nobody)}},
		}
	}
	for _, s := range steps {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("switching sharing: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("switching sharing: %w", err)
	}
	l.forgetPolicies()
	return nil
}

// Sharing reports whether sharing is on, and the default policy that
// applies while it is (the one kept aside while it is off).
func (l *Library) Sharing(ctx context.Context) (on bool, def Policy, err error) {
	pols, err := l.policies(ctx)
	if err != nil {
		return false, Policy{}, err
	}
	if p, off := pols[resumeKey]; off {
		return false, p, nil
	}
	if p, ok := pols[""]; ok {
		return true, p, nil
	}
	return true, DefaultPolicy, nil
}

// Policy returns the policy of a title, falling back to the library default
// and then to DefaultPolicy.
func (l *Library) Policy(ctx context.Context, titleID string) (Policy, error) {
	var s string
	err := l.r.QueryRowContext(ctx, `SELECT policy FROM policies WHERE title_id IN (?, '') ORDER BY title_id DESC LIMIT 1`, titleID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultPolicy, nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("loading policy of %q: %w", titleID, err)
	}
	var p Policy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return Policy{}, fmt.Errorf("loading policy of %q: %w", titleID, err)
	}
	return p, nil
}

// ContentPolicy returns the policy governing cid: that of its first title
// (by ID), or the default if the content has no title.
//
// Answers are cached until a policy or title changes. Callers that miss
// together (a download's first polls from its peers arrive at once) wait
// for one read of the index: each would otherwise take a read connection
// of its own, and a connection's first statements are prepared and its
// schema read anew. A caller joins only a read that began since the last
// policy or title change, so a change is never answered by a read older
// than it.
func (l *Library) ContentPolicy(ctx context.Context, cid sealed.ContentID) (Policy, error) {
	for {
		l.mu.Lock()
		if p, ok := l.policyCache[cid]; ok {
			l.mu.Unlock()
			return p.clone(), nil
		}
		gen := l.policyGen
		if p, ok := l.keptPolicyLocked(cid); ok {
			l.cachePolicyLocked(cid, p)
			l.mu.Unlock()
			return p.clone(), nil
		}
		ld := l.policyLoads[cid]
		if ld != nil && ld.gen == gen {
			l.mu.Unlock()
			select {
			case <-ld.done:
			case <-ctx.Done():
				return Policy{}, ctx.Err()
			}
			if ld.err != nil && ctx.Err() == nil && (errors.Is(ld.err, context.Canceled) || errors.Is(ld.err, context.DeadlineExceeded)) {
				continue // the reader gave up, not us: read again
			}
			return ld.p.clone(), ld.err
		}
		ld = &policyLoad{gen: gen, done: make(chan struct{})}
		if l.policyLoads == nil {
			l.policyLoads = map[sealed.ContentID]*policyLoad{}
		}
		l.policyLoads[cid] = ld
		l.mu.Unlock()
		ld.p, ld.err = l.contentPolicy(ctx, cid)
		l.mu.Lock()
		if l.policyLoads[cid] == ld {
			delete(l.policyLoads, cid)
		}
		if ld.err == nil && l.policyGen == gen { // no policy or title changed meanwhile
			l.cachePolicyLocked(cid, ld.p)
		}
		l.mu.Unlock()
		close(ld.done)
		return ld.p.clone(), ld.err
	}
}

// cachePolicyLocked keeps ContentPolicy's answer p for cid (l.mu held).
func (l *Library) cachePolicyLocked(cid sealed.ContentID, p Policy) {
	if l.policyCache == nil || len(l.policyCache) > 10000 {
		l.policyCache = map[sealed.ContentID]Policy{}
	}
	l.policyCache[cid] = p
}

// keptPolicyLocked answers ContentPolicy for cid from the lists kept in
// memory, HeldContent's (a content's titles) and Policies' (every stored
// policy), when both are current and the library holds cid (l.mu held);
// ok is false otherwise and the index is read. A download's first
// requests from its peers each ask for the policy of a content just
// added: the announcement that made the download known to them read both
// lists after the content's row was written, so they are current, where
// the index's two reads (the content's first title, then its policy) cost
// a new device 1-1.5 ms of CPU (a read connection's first statements are
// compiled anew; 7 % of a one-chunk download's CPU in BenchmarkCrowdFixed,
// loaded machine). A content without a row (a title whose content is not
// held) is not in HeldContent's list: the index is read for it.
func (l *Library) keptPolicyLocked(cid sealed.ContentID) (Policy, bool) {
	c := l.held
	if c == nil || c.gen != l.heldGen || l.pols == nil || l.polsGen != l.policyGen {
		return Policy{}, false
	}
	// HeldContent's rows are in content ID order (hex: the bytes' order).
	i, found := slices.BinarySearchFunc(c.rows, cid, func(h Held, id sealed.ContentID) int {
		return bytes.Compare(h.ContentID[:], id[:])
	})
	if !found {
		return Policy{}, false
	}
	// As contentPolicy and Policy read it: the first title by ID, its
	// policy, else the library's default, else DefaultPolicy.
	if ts := c.rows[i].Titles; len(ts) > 0 {
		if p, ok := l.pols[ts[0].ID]; ok {
			return p, true
		}
	}
	if p, ok := l.pols[""]; ok {
		return p, true
	}
	return DefaultPolicy, true
}

// policyLoad is one read of a content's policy (ContentPolicy), begun
// when policyGen was gen; its answer is ready when done is closed.
type policyLoad struct {
	gen  int
	done chan struct{}
	p    Policy
	err  error
}

// forgetPolicies drops the ContentPolicy cache and Policies' map after a
// policy or title change, and HeldContent's list (it names the titles).
func (l *Library) forgetPolicies() {
	l.mu.Lock()
	l.policyCache = nil
	l.pols = nil
	l.policyGen++
	l.held = nil
	l.heldGen++
	l.mu.Unlock()
}

func (l *Library) contentPolicy(ctx context.Context, cid sealed.ContentID) (Policy, error) {
	var id string
	err := l.r.QueryRowContext(ctx, `SELECT id FROM titles WHERE content_id = ? ORDER BY id LIMIT 1`, cid.String()).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Policy{}, fmt.Errorf("loading policy of %s: %w", cid, err)
	}
	return l.Policy(ctx, id)
}

func (l *Library) policies(ctx context.Context) (map[string]Policy, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT title_id, policy FROM policies`)
	if err != nil {
		return nil, fmt.Errorf("listing policies: %w", err)
	}
	defer rows.Close()
	out := map[string]Policy{}
	for rows.Next() {
		var id, s string
		if err := rows.Scan(&id, &s); err != nil {
			return nil, fmt.Errorf("listing policies: %w", err)
		}
		var p Policy
		if err := json.Unmarshal([]byte(s), &p); err != nil {
			return nil, fmt.Errorf("policy of %q: %w", id, err)
		}
		out[id] = p
	}
	return out, rows.Err()
}
