package share

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// TestRetryBusy: a download's start asks the directory again after "busy"
// and "rate limited" and (a few times) after a failed connection, and
// gives up at once on any other answer.
func TestRetryBusy(t *testing.T) {
	busy := &directory.Error{Status: http.StatusServiceUnavailable, Code: directory.CodeBusy, RetryAfter: time.Millisecond}
	limited := &directory.Error{Status: http.StatusTooManyRequests, Code: directory.CodeRateLimited}
	ctx := context.Background()

	calls := 0
	err := retryBusy(ctx, func() error {
		calls++
		switch calls {
		case 1:
			return busy
		case 2:
			return limited
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("busy, limited, ok: err %v after %d calls, want nil after 3", err, calls)
	}

	calls = 0
	notFound := &directory.Error{Status: http.StatusNotFound, Code: "not_found"}
	if err := retryBusy(ctx, func() error { calls++; return notFound }); !errors.Is(err, notFound) || calls != 1 {
		t.Fatalf("not found: err %v after %d calls, want it after 1", err, calls)
	}

	// The caller gives up during the third call. (A 2 s deadline stood for
	// this and wanted 3 calls in it, 0.9 s more than the back-off needs: a
	// loaded machine made only 2.)
	calls = 0
	tctx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	if err := retryBusy(tctx, func() error {
		if calls++; calls == 3 {
			giveUp()
		}
		return busy
	}); !errors.Is(err, busy) || !errors.Is(err, context.Canceled) || calls != 3 {
		t.Fatalf("always busy until the caller gives up: err %v after %d calls, want busy and the cancel after 3", err, calls)
	}

	calls = 0
	eof := errors.New("EOF")
	if err := retryBusy(ctx, func() error { calls++; return eof }); !errors.Is(err, eof) || calls != netRetries+1 {
		t.Fatalf("connection failing: err %v after %d calls, want it after %d", err, calls, netRetries+1)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := retryBusy(cctx, func() error { return busy }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err %v, want context.Canceled", err)
	}
}
