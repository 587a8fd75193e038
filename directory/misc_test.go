package directory

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
)

func TestTestProcessor(t *testing.T) {
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	p := NewTestProcessor()
	p.now = func() time.Time { return now }
	card := func(num, exp, cvc string) license.Payment { return license.Payment{Card: num, Expiry: exp, CVC: cvc} }
	cases := []struct {
		name  string
		card  license.Payment
		err   error
		brand string
	}{
		{"visa with spaces", card("4242 4242 4242 4242", "12/30", "123"), nil, "visa"},
		{"mastercard", card("5555555555554444", "01/2027", "123"), nil, "mastercard"},
		{"amex 4-digit cvc", card("378282246310005", "11/26", "1234"), nil, "amex"},
		{"luhn fails", card("4242424242424241", "12/30", "123"), ErrCardInvalid, ""},
		{"letters", card("4242abcd42424242", "12/30", "123"), ErrCardInvalid, ""},
		{"too short", card("4242", "12/30", "123"), ErrCardInvalid, ""},
		{"expired last month", card("4242424242424242", "10/26", "123"), ErrCardInvalid, ""},
		{"expiring this month is fine", card("4242424242424242", "11/26", "123"), nil, "visa"},
		{"bad expiry", card("4242424242424242", "13/30", "123"), ErrCardInvalid, ""},
		{"bad cvc", card("4242424242424242", "12/30", "12"), ErrCardInvalid, ""},
		{"documented decline", card(DeclineCard, "12/30", "123"), ErrCardDeclined, ""},
	}
	for i, c := range cases {
		r, err := p.Charge(context.Background(), Charge{IdempotencyKey: c.name, Amount: 100 + int64(i), Currency: "EUR", Card: c.card})
		if !errors.Is(err, c.err) || (err == nil && c.err != nil) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
			continue
		}
		if err == nil {
			num := strings.ReplaceAll(c.card.Card, " ", "")
			if r.Brand != c.brand || r.Last4 != num[len(num)-4:] || !strings.HasPrefix(r.Token, "tok_test_") {
				t.Errorf("%s: result %+v", c.name, r)
			}
		}
	}
	before := p.Charges()
	a, _ := p.Charge(context.Background(), Charge{IdempotencyKey: "visa with spaces", Amount: 100, Card: cases[0].card})
	if p.Charges() != before || a == nil {
		t.Errorf("same idempotency key charged again (%d → %d)", before, p.Charges())
	}
}

func TestWebhookSignature(t *testing.T) {
	secret, body := []byte("k"), []byte(`{"event_id":"ev_1"}`)
	now := time.Unix(1_800_000_000, 0)
	h := SignWebhook(secret, now, body)
	if err := VerifyWebhook(secret, h, body, now.Add(time.Second), time.Minute); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		at     time.Time
	}{
		{"other secret", []byte("x"), h, body, now},
		{"other body", secret, h, []byte(`{}`), now},
		{"too old", secret, h, body, now.Add(time.Hour)},
		{"malformed", secret, "v1=00", body, now},
		{"empty", secret, "", body, now},
	}
	for _, c := range cases {
		if err := VerifyWebhook(c.secret, c.header, c.body, c.at, time.Minute); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 40: time.Hour} {
		if got := Backoff(n); got < want || got > want+want/5 {
			t.Errorf("Backoff(%d) = %s, want %s + up to 20%%", n, got, want)
		}
	}
}

func TestParseURL(t *testing.T) {
	id, _ := identity.Generate()
	cases := []struct {
		in   string
		base string
		fp   identity.ID
		ok   bool
	}{
		{"https://dir.example:8443#" + string(id.ID()), "https://dir.example:8443", id.ID(), true},
		{"https://dir.example:8443/#" + strings.ToLower(string(id.ID())), "https://dir.example:8443", id.ID(), true},
		{"https://dir.example", "https://dir.example", "", true},
		{"https://dir.example#NOTANID", "", "", false},
		{"ftp://dir.example", "", "", false},
		{"https://", "", "", false},
		{"https://u:p@dir.example", "", "", false},
		{"https://dir.example?x=1", "", "", false},
	}
	for _, c := range cases {
		base, fp, err := ParseURL(c.in)
		if (err == nil) != c.ok || base != c.base || fp != c.fp {
			t.Errorf("ParseURL(%q) = %q, %q, %v", c.in, base, fp, err)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	type T struct {
		A string `json:"a"`
		N []int  `json:"n"`
	}
	cases := []struct {
		name, in, want string
	}{
		{"ok", `{"a":"x","n":[1]}`, ""},
		{"unknown field", `{"a":"x","b":1}`, "unknown field"},
		{"wrong type", `{"a":1}`, `field "a"`},
		{"syntax", `{"a":}`, "malformed"},
		{"truncated", `{"a":"x"`, "truncated"},
		{"trailing", `{"a":"x"}{}`, "trailing"},
		{"empty", ` `, "empty"},
	}
	for _, c := range cases {
		var v T
		err := decodeStrict([]byte(c.in), &v)
		var e *Error
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &e) || e.Status != http.StatusBadRequest || !strings.Contains(e.Message, c.want)):
			t.Errorf("%s: err = %v, want 400 with %q", c.name, err, c.want)
		}
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(2, func() time.Time { return now }) // 2/s, burst 4
	for i := 0; i < 4; i++ {
		if _, ok := l.allow("ip"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	wait, ok := l.allow("ip")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("5th: ok=%v wait=%s, want refused with a wait ≤ 1 s", ok, wait)
	}
	if _, ok := l.allow("other"); !ok {
		t.Error("another key shares the bucket")
	}
	now = now.Add(wait)
	if _, ok := l.allow("ip"); !ok {
		t.Error("refused after waiting the advised time")
	}
	if _, ok := newLimiter(-1, time.Now).allow("x"); !ok {
		t.Error("unlimited limiter refused")
	}
}

func TestReplayCache(t *testing.T) {
	c := newReplayCache()
	now := time.Unix(100, 0)
	if !c.add("sig", now.Add(30*time.Second), now) {
		t.Fatal("first refused")
	}
	if c.add("sig", now.Add(30*time.Second), now.Add(time.Second)) {
		t.Fatal("replay inside the window accepted")
	}
	if !c.add("sig", now.Add(90*time.Second), now.Add(31*time.Second)) {
		t.Fatal("entry not forgotten after its window (the time check refuses such requests anyway)")
	}
}

func TestClientSignTimeIncreases(t *testing.T) {
	c := &Client{}
	last := c.signTime()
	for i := 0; i < 1000; i++ {
		t2 := c.signTime()
		if t2 <= last {
			t.Fatalf("sign time went %d → %d", last, t2)
		}
		last = t2
	}
}
