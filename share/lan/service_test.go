package lan

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	idA = "ABCDEFG-HIJKLMN-OPQRSTU-VWXYZ23-4567ABC"
	fp1 = "DIRONEA-BCDEFGH-IJKLMNO-PQRSTUV-WXYZ234"
)

func TestParseTXT(t *testing.T) {
	for _, c := range []struct {
		name   string
		kind   Kind
		fields []string
		want   Service // compared when wantOK
		wantOK bool
	}{
		// The records our own announcer produces.
		{"device", Device, []string{"v=1", "id=" + idA, "dir=" + fp1, "name=Kitchen"},
			Service{Kind: Device, DeviceID: idA, Fingerprint: fp1, Name: "Kitchen", Proto: 1}, true},
		{"directory", Directory, []string{"v=1", "fp=" + fp1, "url=/kith", "url=https://x.example/k"},
			Service{Kind: Directory, Fingerprint: fp1, URLs: []string{"/kith", "https://x.example/k"}, Proto: 1}, true},
		// A device not yet in a directory has no dir=.
		{"device without directory", Device, []string{"v=1", "id=" + idA},
			Service{Kind: Device, DeviceID: idA, Proto: 1}, true},
		// Keys are case-insensitive; unknown keys and empty strings are skipped.
		{"case and unknown keys", Device, []string{"V=2", "ID=" + idA, "future=whatever", ""},
			Service{Kind: Device, DeviceID: idA, Proto: 2}, true},
		// A key belonging to the other kind is just unknown.
		{"fp on a device is ignored", Device, []string{"v=1", "id=" + idA, "fp=!!"},
			Service{Kind: Device, DeviceID: idA, Proto: 1}, true},
		// Only the first MaxURLs url= hints are kept.
		{"many urls", Directory, []string{"v=1", "fp=" + fp1, "url=/1", "url=/2", "url=/3", "url=/4", "url=/5"},
			Service{Kind: Directory, Fingerprint: fp1, URLs: []string{"/1", "/2", "/3", "/4"}, Proto: 1}, true},

		// Required keys.
		{"no version", Device, []string{"id=" + idA}, Service{}, false},
		{"no id", Device, []string{"v=1", "dir=" + fp1}, Service{}, false},
		{"no fp", Directory, []string{"v=1", "url=/x"}, Service{}, false},
		// Malformed values.
		{"id with space", Device, []string{"v=1", "id=AB CD"}, Service{}, false},
		{"id with unicode", Device, []string{"v=1", "id=ÄBC"}, Service{}, false},
		{"empty id", Device, []string{"v=1", "id="}, Service{}, false},
		{"id too long", Device, []string{"v=1", "id=" + strings.Repeat("A", MaxIDLen+1)}, Service{}, false},
		{"version zero", Device, []string{"v=0", "id=" + idA}, Service{}, false},
		{"version too big", Device, []string{"v=65536", "id=" + idA}, Service{}, false},
		{"version with sign", Device, []string{"v=+1", "id=" + idA}, Service{}, false},
		{"version not a number", Device, []string{"v=one", "id=" + idA}, Service{}, false},
		{"name with control char", Device, []string{"v=1", "id=" + idA, "name=a\x1bb"}, Service{}, false},
		{"name with bidi override", Device, []string{"v=1", "id=" + idA, "name=evil\u202egnp.exe"}, Service{}, false},
		{"name not utf-8", Device, []string{"v=1", "id=" + idA, "name=\xff"}, Service{}, false},
		{"name too long", Device, []string{"v=1", "id=" + idA, "name=" + strings.Repeat("n", MaxNameLen+1)}, Service{}, false},
		{"url not a path", Directory, []string{"v=1", "fp=" + fp1, "url=ftp://x"}, Service{}, false},
		{"url with space", Directory, []string{"v=1", "fp=" + fp1, "url=/a b"}, Service{}, false},
		// Repeated keys could be read two ways: refuse.
		{"repeated id", Device, []string{"v=1", "id=" + idA, "id=OTHER"}, Service{}, false},
		{"repeated version differing in case", Device, []string{"v=1", "V=2", "id=" + idA}, Service{}, false},
		{"string without =", Device, []string{"v=1", "id=" + idA, "garbage"}, Service{}, false},
		{"too many strings", Device, append([]string{"v=1", "id=" + idA}, slices.Repeat([]string{"x=1"}, MaxTXTFields)...), Service{}, false},
		{"unknown kind", Kind(9), []string{"v=1"}, Service{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTXT(c.kind, c.fields)
			if !c.wantOK {
				if err == nil {
					t.Fatalf("ParseTXT(%q) = %+v, want error", c.fields, got)
				}
				if !errors.Is(err, ErrBadTXT) {
					t.Errorf("error %v does not wrap ErrBadTXT", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTXT(%q): %v", c.fields, err)
			}
			if !sameService(got, c.want) {
				t.Errorf("ParseTXT(%q) = %+v, want %+v", c.fields, got, c.want)
			}
		})
	}
}

func TestServiceTXTRoundTrip(t *testing.T) {
	for _, s := range []Service{
		{Kind: Device, DeviceID: idA, Fingerprint: fp1, Name: "Wohnzimmer ♪", Proto: 1},
		{Kind: Directory, Fingerprint: fp1, URLs: []string{"/kith"}, Proto: 3},
	} {
		txt, err := s.TXT()
		if err != nil {
			t.Fatalf("TXT(%+v): %v", s, err)
		}
		got, err := ParseTXT(s.Kind, txt)
		if err != nil {
			t.Fatalf("ParseTXT(%q): %v", txt, err)
		}
		if !sameService(got, s) {
			t.Errorf("round trip: got %+v, want %+v", got, s)
		}
	}
	// Encoding refuses what parsing would refuse.
	if _, err := (Service{Kind: Device, DeviceID: "no spaces allowed"}).TXT(); err == nil {
		t.Error("TXT accepted a device ID with spaces")
	}
	if _, err := (Service{Kind: Directory}).TXT(); err == nil {
		t.Error("TXT accepted a directory without fingerprint")
	}
}

func TestInstanceFromName(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		name string
		want string // "" means error
	}{
		{Device, "kith-abc._kith._tcp.local.", "kith-abc"},           // ordinary
		{Device, "Kith-ABC._KITH._tcp.local.", "Kith-ABC"},           // DNS is case-insensitive, label case kept
		{Directory, "kithdir-x._kith-dir._tcp.local.", "kithdir-x"},  // directory service
		{Device, "kith-abc._kith-dir._tcp.local.", ""},               // wrong service
		{Device, "a.b._kith._tcp.local.", ""},                        // two labels
		{Device, `a\ b._kith._tcp.local.`, ""},                       // escaped space
		{Device, "._kith._tcp.local.", ""},                           // empty label
		{Device, strings.Repeat("a", 64) + "._kith._tcp.local.", ""}, // label too long
	} {
		got, err := instanceFromName(c.kind, c.name)
		if c.want == "" {
			if err == nil {
				t.Errorf("instanceFromName(%q) = %q, want error", c.name, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("instanceFromName(%q) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestDefaultInstance(t *testing.T) {
	got := Service{Kind: Device, DeviceID: idA}.DefaultInstance()
	if got != "kith-abcdefghijklmnopqrs" || checkInstance(got) != nil {
		t.Errorf("device default instance %q", got)
	}
	got = Service{Kind: Directory, Fingerprint: fp1}.DefaultInstance()
	if !strings.HasPrefix(got, "kithdir-dirone") || checkInstance(got) != nil {
		t.Errorf("directory default instance %q", got)
	}
}

// FuzzParseTXT feeds arbitrary TXT strings (separated by NUL in the input)
// to the parser: it must not panic, and whatever it accepts must respect the
// limits and survive a round trip through Service.TXT.
func FuzzParseTXT(f *testing.F) {
	f.Add(true, "v=1\x00id="+idA+"\x00dir="+fp1+"\x00name=Kitchen")
	f.Add(false, "v=1\x00fp="+fp1+"\x00url=/kith")
	f.Add(true, "v=1\x00id=a b")
	f.Add(true, "v=99999999999999999999\x00id=A")
	f.Fuzz(func(t *testing.T, device bool, raw string) {
		kind := Directory
		if device {
			kind = Device
		}
		s, err := ParseTXT(kind, strings.Split(raw, "\x00"))
		if err != nil {
			return
		}
		if len(s.DeviceID) > MaxIDLen || len(s.Fingerprint) > MaxIDLen || len(s.Name) > MaxNameLen || len(s.URLs) > MaxURLs {
			t.Fatalf("accepted over-long fields: %+v", s)
		}
		txt, err := s.TXT()
		if err != nil {
			t.Fatalf("re-encoding accepted %+v: %v", s, err)
		}
		again, err := ParseTXT(kind, txt)
		if err != nil || !sameService(again, s) {
			t.Fatalf("round trip of %+v: got %+v, %v", s, again, err)
		}
	})
}

func BenchmarkParseTXT(b *testing.B) {
	fields := []string{"v=1", "id=" + idA, "dir=" + fp1, "name=Kitchen"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTXT(Device, fields); err != nil {
			b.Fatal(err)
		}
	}
}
