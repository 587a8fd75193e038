package directory

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook headers on every billing delivery.
const (
	HeaderWebhookSignature = "Kith-Webhook-Signature" // t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
	HeaderWebhookEvent     = "Kith-Event-Id"
)

// Outbox delivery pacing.
const (
	outboxPoll       = time.Second
	outboxBatch      = 16
	webhookTimeout   = 10 * time.Second
	outboxMaxBackoff = time.Hour
)

func (s *Server) wakeOutbox() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// runOutbox delivers due billing events to the webhook until ctx ends.
// Events are committed with their purchase, so a crash only delays them;
// delivery is at least once (the receiver dedupes on event_id).
func (s *Server) runOutbox(ctx context.Context) error {
	if s.o.Webhook == "" {
		<-ctx.Done()
		return nil
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-t.C:
		}
		s.deliverDue(ctx)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(outboxPoll)
	}
}

// deliverDue posts every due event once.
func (s *Server) deliverDue(ctx context.Context) {
	for ctx.Err() == nil {
		now := s.now().UTC()
		evs, err := s.st.ClaimEvents(ctx, now, outboxBatch, s.outboxLease())
		if err != nil {
			s.log.Error("reading outbox", "err", err)
			return
		}
		delivered := make([]int64, 0, len(evs))
		for _, ev := range evs {
			if err := s.postEvent(ctx, ev); err != nil {
				attempts := ev.Attempts + 1
				next := s.now().UTC().Add(Backoff(attempts))
				s.metrics.outbox.add("failed", 1)
				s.log.Warn("billing webhook delivery failed", "event", ev.ID, "attempts", attempts, "next", next, "err", err)
				if err := s.st.MarkRetry(ctx, ev.ID, attempts, next, err.Error()); err != nil {
					s.log.Error("recording outbox retry", "err", err)
				}
				continue
			}
			s.metrics.outbox.add("delivered", 1)
			delivered = append(delivered, ev.ID)
		}
		// one commit for the batch; should this instance die first, the
		// events are posted again once their lease runs out (at least once)
		if len(delivered) > 0 {
			if err := s.st.MarkDelivered(context.WithoutCancel(ctx), delivered, s.now().UTC()); err != nil {
				s.log.Error("recording outbox delivery", "err", err)
			}
		}
		if len(evs) < outboxBatch {
			return
		}
	}
}

// outboxLease is how long a claimed batch is this instance's: time for
// every event of it to time out once, and a margin.
func (s *Server) outboxLease() time.Duration {
	if s.o.OutboxLease > 0 {
		return s.o.OutboxLease
	}
	return outboxBatch*webhookTimeout + 30*time.Second
}

// Backoff is how long the outbox waits before posting an event again
// after its n-th failed attempt: 1 s doubling with each attempt up to
// outboxMaxBackoff, plus up to a fifth more at random so instances and
// events do not retry in step.
func Backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := outboxMaxBackoff
	if n < 13 {
		d = min(time.Second<<(n-1), outboxMaxBackoff)
	}
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

func (s *Server) postEvent(ctx context.Context, ev *OutboxEvent) error {
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.Webhook, bytes.NewReader(ev.Payload))
	if err != nil {
		return fmt.Errorf("building webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderWebhookEvent, strconv.FormatInt(ev.ID, 10))
	req.Header.Set(HeaderWebhookSignature, SignWebhook(s.o.WebhookSecret, s.now(), ev.Payload))
	resp, err := s.o.WebhookClient.Do(req)
	if err != nil {
		return fmt.Errorf("posting to webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// SignWebhook returns the Kith-Webhook-Signature value for body.
func SignWebhook(secret []byte, now time.Time, body []byte) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a Kith-Webhook-Signature header value: the HMAC
// matches and its time is within tolerance of now. Media sources call it
// in their webhook handler.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || v1 == "" {
		return errors.New("webhook signature: malformed header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook signature: time is %s off", d)
	}
	got, err := hex.DecodeString(v1)
	if err != nil || !hmac.Equal(got, webhookMAC(secret, ts, body)) {
		return errors.New("webhook signature: mismatch")
	}
	return nil
}

// ExportBillingCSV writes every billing event (delivered or not) as CSV
// with a header row.
func ExportBillingCSV(ctx context.Context, st Store, w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"event_id", "kind", "purchase", "title", "title_name", "account", "device", "amount",
		"currency", "card_brand", "card_last4", "supplier", "time", "delivered", "attempts", "last_error"})
	err := st.Events(ctx, func(ev *OutboxEvent) error {
		var b BillingEvent
		if err := json.Unmarshal(ev.Payload, &b); err != nil {
			return fmt.Errorf("decoding event %d: %w", ev.ID, err)
		}
		delivered := ""
		if !ev.Delivered.IsZero() {
			delivered = ev.Delivered.UTC().Format(time.RFC3339)
		}
		return cw.Write([]string{b.EventID, b.Kind, b.PurchaseID, b.TitleID, b.TitleName, b.Account, string(b.Device),
			strconv.FormatInt(b.Amount, 10), b.Currency, b.CardBrand, b.CardLast4, string(b.Supplier),
			b.Time.UTC().Format(time.RFC3339), delivered, strconv.Itoa(ev.Attempts), ev.LastError})
	})
	if err != nil {
		return fmt.Errorf("exporting billing: %w", err)
	}
	cw.Flush()
	return cw.Error()
}
