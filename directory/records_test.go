package directory_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/internal/tlswire"
)

// TestOriginAnswersInFullRecords: the origin's content answer goes out in
// full-size TLS records from the connection's first byte, not in records
// that grow a packet at a time over its first 128 KB (crypto/tls's
// dynamic record sizing, which makes the downloading device's crypto/tls
// reallocate its input buffer for each bigger record, as share/peer's
// TestFullRecordsFromTheStart says of peer connections). A real directory
// over TLS on loopback, a device's client reading a title from the origin
// through a relay that reads the records on the wire.
func TestOriginAnswersInFullRecords(t *testing.T) {
	ctx := context.Background()
	d := dirtest.Serve(t, directory.Options{RateIP: -1, RateDevice: -1})
	plain := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{13}).Read(plain)
	title, err := directory.Publish(ctx, d.Store, d.Identity, d.Origin, bytes.NewReader(plain), directory.PublishOptions{Name: "Song", MediaType: "audio/mpeg"})
	if err != nil {
		t.Fatal(err)
	}
	relay := tlswire.StartRelay(t, d.Addr)
	c, err := directory.NewClient(directory.ClientOptions{URL: directory.FormatURL("https://"+relay.Addr(), d.Server.ID())})
	if err != nil {
		t.Fatal(err)
	}
	body, err := c.Origin(ctx, title.ContentID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, body)
	body.Close()
	if err != nil || n != title.Size {
		t.Fatalf("origin read %d of %d bytes: %v", n, title.Size, err)
	}

	mid, full := tlswire.Records(relay.Down())
	t.Logf("%d full-size records, %d of 1-16 KiB", full, mid)
	// The answer's head and the first bytes of the body go out together
	// through net/http's 4 KiB buffer, the rest in 32 KiB writes: a few
	// shorter records around full ones, not one a packet bigger at a time.
	if want := int(title.Size/(16<<10)) - 4; full < want || mid > 3 {
		t.Errorf("a %d-byte origin answer came in %d full-size records and %d of 1-16 KiB, want %d full at least and at most 3 shorter",
			title.Size, full, mid, want)
	}
}
