package library

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// heldString is HeldContent's answer in a comparable form.
func heldString(t *testing.T, l *Library) string {
	t.Helper()
	held, err := l.HeldContent(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, h := range held {
		fmt.Fprintf(&b, "%s have=%d/%d complete=%v titles=", h.ContentID.String()[:8], h.Have, h.Total, h.Complete)
		for _, ti := range h.Titles {
			fmt.Fprintf(&b, "%s,", ti.ID)
		}
		b.WriteString("; ")
	}
	return b.String()
}

// HeldContent and Policies are kept between calls: every change a listing
// shows must be seen by the next call (a stale list would announce a
// removed title, or offer a title whose policy just became "nobody").
func TestHeldContentFollowsEveryChange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	file1, m1, _, _ := sealedFile(t, 40_000, 4096)
	file2, m2, _, _ := sealedFile(t, 30_000, 4096)
	c1, c2 := m1.ContentID().String()[:8], m2.ContentID().String()[:8]
	steps := []struct {
		what   string
		change func() error
		want   []string // substrings of the listing, in order of content ID
		not    string
	}{
		{"empty", func() error { return nil }, nil, c1},
		{"manifest added", func() error { return l.AddManifest(ctx, m1) }, []string{c1 + " have=0/10 complete=false titles=;"}, ""},
		{"three chunks written", func() error {
			for i := range 3 {
				if err := l.WriteChunk(m1.ContentID(), i, chunkOf(m1, file1, i)); err != nil {
					return err
				}
			}
			return nil
		}, []string{c1 + " have=3/10 complete=false"}, ""},
		{"title added", func() error {
			return l.PutTitle(ctx, Title{ID: "t1", Name: "one", ContentID: m1.ContentID(), MediaType: "audio/test"})
		}, []string{"titles=t1,;"}, ""},
		{"second content imported", func() error { return l.Import(ctx, m2, bytes.NewReader(file2)) },
			[]string{c2 + " have=8/8 complete=true"}, ""},
		{"first completed", func() error {
			for i := 3; i < m1.NumChunks(); i++ {
				if err := l.WriteChunk(m1.ContentID(), i, chunkOf(m1, file1, i)); err != nil {
					return err
				}
			}
			return nil
		}, []string{c1 + " have=10/10 complete=true titles=t1,;"}, ""},
		{"title deleted", func() error { return l.DeleteTitle(ctx, "t1") }, []string{c1 + " have=10/10 complete=true titles=;"}, "t1"},
		{"second removed", func() error { return l.RemoveContent(ctx, m2.ContentID()) }, []string{c1}, c2},
	}
	for _, s := range steps {
		_ = heldString(t, l) // read (and kept) before the change
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		got := heldString(t, l)
		for _, w := range s.want {
			if !strings.Contains(got, w) {
				t.Errorf("after %s: HeldContent = %q; want it to contain %q", s.what, got, w)
			}
		}
		if s.not != "" && strings.Contains(got, s.not) {
			t.Errorf("after %s: HeldContent = %q still names %q", s.what, got, s.not)
		}
	}

	// A caller changing its answer does not change the next one's.
	_ = heldString(t, l)
	if err := l.PutTitle(ctx, Title{ID: "t2", Name: "two", ContentID: m1.ContentID(), MediaType: "audio/test"}); err != nil {
		t.Fatal(err)
	}
	held, _ := l.HeldContent(ctx)
	held[0].Titles[0].ID = "changed"
	held[0].Have = 0
	if got := heldString(t, l); !strings.Contains(got, "have=10/10 complete=true titles=t2,;") {
		t.Errorf("after the caller changed its copy: %q", got)
	}

	pols, err := l.Policies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pols) != 0 {
		t.Fatalf("policies of a new library: %v", pols)
	}
	pols["t2"] = Policy{Mode: "anyone"} // the caller's copy
	if err := l.SetPolicy(ctx, "t2", Policy{Mode: "nobody"}); err != nil {
		t.Fatal(err)
	}
	if pols, _ = l.Policies(ctx); pols["t2"].Mode != "nobody" {
		t.Fatalf("after SetPolicy: %v", pols)
	}
	if err := l.SetSharing(ctx, false); err != nil {
		t.Fatal(err)
	}
	if pols, _ = l.Policies(ctx); pols[""].Mode != "nobody" || len(pols) != 2 {
		t.Fatalf("after sharing off: %v (want the default nobody, the set-aside one hidden)", pols)
	}
	if err := l.SetSharing(ctx, true); err != nil {
		t.Fatal(err)
	}
	if pols, _ = l.Policies(ctx); pols[""].Mode == "nobody" {
		t.Fatalf("after sharing on: %v", pols)
	}
	before := heldString(t, l)
	l.Close()
	if after := heldString(t, openLib(t, dir)); after != before {
		t.Fatalf("reopened: %q; before closing: %q", after, before)
	}
}

// While nothing changes, HeldContent and Policies answer without asking
// SQLite (a heartbeat every AnnounceInterval, a peer's every offer
// request): a read of the index costs tens of allocations (rows, scans,
// strings), a kept answer's copy a few.
func TestHeldContentReadsTheIndexOnce(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	file, m, _, _ := sealedFile(t, 40_000, 4096)
	if err := l.Import(ctx, m, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	if err := l.PutTitle(ctx, Title{ID: "t1", Name: "one", ContentID: m.ContentID(), MediaType: "audio/test"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetPolicy(ctx, "t1", Policy{Mode: "account"}); err != nil {
		t.Fatal(err)
	}
	// A download's flushes (every SyncInterval, as often as a heartbeat)
	// keep the list: a loaded content's progress is read from memory.
	file2, m2, _, _ := sealedFile(t, 40_000, 4096)
	if err := l.AddManifest(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if _, err := l.HeldContent(ctx); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	gen := l.heldGen
	l.mu.Unlock()
	for i := range m2.NumChunks() {
		if err := l.WriteChunk(m2.ContentID(), i, chunkOf(m2, file2, i)); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(m2.ContentID()); err != nil {
			t.Fatal(err)
		}
	}
	l.mu.Lock()
	kept := l.heldGen == gen && l.held != nil
	l.mu.Unlock()
	if !kept {
		t.Fatalf("a download's flushes dropped HeldContent's list")
	}
	if st, _ := l.Status(ctx, m2.ContentID()); !st.Complete {
		t.Fatalf("not complete: %+v", st)
	}
	allocs := testing.AllocsPerRun(50, func() {
		held, err := l.HeldContent(ctx)
		if err != nil || len(held) != 2 || !held[0].Complete || !held[1].Complete {
			t.Fatalf("HeldContent = %v, %v", held, err)
		}
		if pols, err := l.Policies(ctx); err != nil || len(pols) != 1 {
			t.Fatalf("Policies = %v, %v", pols, err)
		}
	})
	if allocs > 10 {
		t.Fatalf("HeldContent and Policies: %.0f allocations a call while nothing changed; want ≤ 10 (answered from memory)", allocs)
	}
}
