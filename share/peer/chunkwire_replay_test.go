package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/license"
)

// TestWireRelayClosedAsItWentOut: a registration relayed through a peer
// (POST /relay, the one request with a body) that meets the peer's close
// of a live connection before any answer is sent again on a new
// connection, whole: the directory answers one registration (its nonce)
// once whatever the copies, so it is marked idempotent. Before, it failed
// ("chunk wire to X: EOF") and the purchase through the neighbour with it.
func TestWireRelayClosedAsItWentOut(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 36)
	_, n := c.m.ChunkRange(0)
	reg := &license.SealedRegistration{Device: "DEV", Ciphertext: []byte("sealed registration"), Signature: []byte("sig")}
	want, err := json.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	asked := map[io.Writer]int{} // requests read, by connection
	var relayed [][]byte         // the relay bodies answered
	srv, me := newIdent(t), newIdent(t)
	addr := wireServer(t, srv, func(q *wireReq, w io.Writer) {
		mu.Lock()
		asked[w]++
		first := len(asked) == 1
		mu.Unlock()
		switch {
		case q.method == http.MethodPost && first: // the first connection: closed unanswered
			w.(net.Conn).Close()
		case q.method == http.MethodPost:
			mu.Lock()
			relayed = append(relayed, q.body)
			mu.Unlock()
			body := []byte(`{}`)
			head, _ := answerHead(q.tag, 200, http.Header{"Content-Type": {"application/json"}}, len(body))
			w.Write(append(head, body...))
		default:
			head, _ := answerHead(q.tag, 200, nil, int(n))
			w.Write(append(head, c.chunk(0)...))
		}
	})
	cl := client(t, me, srv.ID(), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Chunk(ctx, c.m, 0, nil); err != nil { // the connection is live
		t.Fatal(err)
	}
	if _, err := cl.Relay(ctx, reg); err != nil {
		t.Fatalf("relay: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || len(relayed) != 1 || !bytes.Equal(relayed[0], want) {
		t.Fatalf("%d connections, relayed %q; want the closed one and a new one carrying %q", len(asked), relayed, want)
	}
}
