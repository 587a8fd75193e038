package rowscan

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// row is a Row over fixed values, as a driver would scan them.
type row []any

func (r row) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return errors.New("column count")
	}
	for i, d := range dest {
		switch p := d.(type) {
		case *string:
			*p = r[i].(string)
		case *int64:
			*p = r[i].(int64)
		case *int:
			*p = r[i].(int)
		case *bool:
			*p = r[i].(bool)
		case *[]byte:
			*p = r[i].([]byte)
		default:
			return errors.New("unexpected destination")
		}
	}
	return nil
}

func TestTimesAndLists(t *testing.T) {
	if MS(time.Time{}) != 0 || !Time(0).IsZero() {
		t.Fatal("the zero time is not stored as 0")
	}
	now := time.Date(2026, 12, 4, 21, 30, 0, 123e6, time.UTC)
	if got := Time(MS(now)); !got.Equal(now) || got.Location() != time.UTC {
		t.Fatalf("time round trip: %v", got)
	}
	for _, v := range [][]string{nil, {"a"}, {"10.0.0.1:7000", `quote"d`}} {
		got, err := List(JSONList(v))
		if err != nil || !slices.Equal(got, v) {
			t.Fatalf("list round trip of %q: %q, %v", v, got, err)
		}
	}
	if JSONList(nil) != "[]" {
		t.Fatalf("no list stored as %q", JSONList(nil))
	}
	if _, err := List(`["a",`); err == nil {
		t.Fatal("a broken list column decoded")
	}
}

func TestAnnouncementAndHolding(t *testing.T) {
	a, err := Announcement(row{"203.0.113.7", `["203.0.113.7:7000"]`, `["10.0.0.2:7000"]`, `{"X":4}`, 2, int64(1)}, "dev")
	if err != nil || a.Device != "dev" || a.Addrs[0] != "203.0.113.7:7000" || a.PrivateAddrs[0] != "10.0.0.2:7000" ||
		a.RTTs["X"] != 4 || a.Load != 2 || a.Expires.UnixMilli() != 1 {
		t.Fatalf("announcement: %+v, %v", a, err)
	}
	if a, err := Announcement(row{"", "[]", "[]", "null", 0, int64(0)}, "dev"); err != nil || a.RTTs != nil || a.Addrs != nil {
		t.Fatalf("empty announcement: %+v, %v", a, err)
	}
	if _, err := Announcement(row{"", "[]", "[]", "{", 0, int64(0)}, "dev"); err == nil {
		t.Fatal("broken rtts decoded")
	}
	h, err := Holding(row{true, "list", `["bob"]`, "[]"}, [32]byte{1})
	if err != nil || !h.Complete || h.Policy.Mode != "list" || h.Policy.Allow[0] != "bob" || h.Policy.Deny != nil || h.Content[0] != 1 {
		t.Fatalf("holding: %+v, %v", h, err)
	}
	if _, err := Holding(row{true, "list", `[`, "[]"}, [32]byte{}); err == nil {
		t.Fatal("a broken allow list decoded")
	}
}

func TestDeviceAndEvent(t *testing.T) {
	d, err := Device(row{"ID1", "home", "kitchen", []byte{1}, []byte{2}, false, int64(5)})
	if err != nil || d.ID != "ID1" || d.Account != "home" || d.Keys.Sign[0] != 1 || d.Keys.Box[0] != 2 || d.Created.UnixMilli() != 5 {
		t.Fatalf("device: %+v, %v", d, err)
	}
	if _, err := Device(row{"too few"}); err == nil {
		t.Fatal("a short row scanned")
	}
	var e *directory.OutboxEvent
	if e, err = Event(row{int64(3), "purchase", []byte("{}"), int64(1), 2, int64(0), int64(9), ""}); err != nil ||
		e.ID != 3 || e.Attempts != 2 || !e.NextAttempt.IsZero() || e.Delivered.UnixMilli() != 9 {
		t.Fatalf("event: %+v, %v", e, err)
	}
}
