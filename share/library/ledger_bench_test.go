package library

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// BenchmarkRecordAll is a peer server's upload-ledger flush (every second
// while it uploads): the bytes served to each of its peers for one content
// added to their ledger entries, here to 1-8 peers in turn.
//
//	go test -tags libsqlite3 -run '^$' -bench RecordAll ./share/library/
func BenchmarkRecordAll(b *testing.B) {
	ctx := context.Background()
	l := openLib(b, b.TempDir())
	_, m, _, _ := sealedFile(b, 4*4096, 4096)
	ds := make([]LedgerDelta, 8)
	for i := range ds {
		ds[i] = LedgerDelta{Peer: identity.ID(strings.Repeat(fmt.Sprint(i), 52)), ContentID: m.ContentID(), Direction: Up, Bytes: 1 << 20}
	}
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		k = k%len(ds) + 1
		if err := l.RecordAll(ctx, ds[:k]); err != nil {
			b.Fatal(err)
		}
	}
}
