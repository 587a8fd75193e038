package lan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says which of the two Kith services a record announces.
type Kind int

const (
	// Device is a Kith device (service "_kith._tcp").
	Device Kind = iota + 1
	// Directory is a Kith directory server (service "_kith-dir._tcp").
	Directory
)

// Service names in DNS-SD form.
const (
	DeviceService    = "_kith._tcp"
	DirectoryService = "_kith-dir._tcp"
)

// ProtocolVersion is the version this package announces in "v=".
const ProtocolVersion = 1

// Limits on announced fields. Anything longer arriving from the LAN is
// rejected, so a hostile neighbour cannot bloat memory or the UI.
const (
	MaxIDLen       = 96  // device IDs and fingerprints
	MaxNameLen     = 64  // display name, bytes
	MaxInstanceLen = 63  // one DNS label
	MaxURLLen      = 200 // one url= hint
	MaxURLs        = 4   // url= hints kept per directory
	MaxTXTFields   = 16  // TXT strings per record
)

// ErrBadTXT is wrapped by every TXT parsing error.
var ErrBadTXT = errors.New("malformed kith TXT record")

// String returns the DNS-SD service name of the kind.
func (k Kind) String() string {
	switch k {
	case Device:
		return DeviceService
	case Directory:
		return DirectoryService
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

func (k Kind) valid() bool { return k == Device || k == Directory }

// Service is what one mDNS instance announces.
type Service struct {
	// Kind selects the DNS-SD service type.
	Kind Kind
	// Instance is the DNS-SD instance name: letters, digits, '-' and '_',
	// at most 63 bytes. Empty means DefaultInstance.
	Instance string
	// DeviceID is the device's ID (TXT "id="); required for devices, unused
	// for directories.
	DeviceID string
	// Fingerprint is the directory's fingerprint: the directory a device
	// belongs to (TXT "dir=", optional) or the directory itself (TXT "fp=",
	// required).
	Fingerprint string
	// Name is an optional display name (TXT "name=").
	Name string
	// URLs are a directory's path or URL hints (TXT "url=", repeatable), e.g.
	// "/kith/v1" to be appended to the announced address.
	URLs []string
	// Port is the TCP port the service listens on.
	Port int
	// Proto is the protocol version (TXT "v="); zero means ProtocolVersion
	// when announcing.
	Proto int
}

// DefaultInstance is the instance name used when Service.Instance is empty:
// "kith-" or "kithdir-" followed by the first characters of the device ID or
// fingerprint, lower-cased, dashes dropped.
func (s Service) DefaultInstance() string {
	prefix, id := "kith-", s.DeviceID
	if s.Kind == Directory {
		prefix, id = "kithdir-", s.Fingerprint
	}
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range strings.ToLower(id) {
		if b.Len() >= 24 {
			break
		}
		if r != '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TXT encodes the service's TXT strings after checking every field with the
// same rules ParseTXT applies to received records.
func (s Service) TXT() ([]string, error) {
	if !s.Kind.valid() {
		return nil, fmt.Errorf("encoding TXT: unknown kind %d", s.Kind)
	}
	proto := s.Proto
	if proto == 0 {
		proto = ProtocolVersion
	}
	txt := []string{"v=" + strconv.Itoa(proto)}
	switch s.Kind {
	case Device:
		txt = append(txt, "id="+s.DeviceID)
		if s.Fingerprint != "" {
			txt = append(txt, "dir="+s.Fingerprint)
		}
	case Directory:
		txt = append(txt, "fp="+s.Fingerprint)
		for _, u := range s.URLs {
			txt = append(txt, "url="+u)
		}
	}
	if s.Name != "" {
		txt = append(txt, "name="+s.Name)
	}
	if _, err := ParseTXT(s.Kind, txt); err != nil {
		return nil, fmt.Errorf("encoding TXT: %w", err)
	}
	return txt, nil
}

// ParseTXT decodes the TXT strings of a received record of the given kind.
// Unknown keys are ignored (newer peers may add some); missing required
// keys, repeated keys, bad characters and over-long values are errors
// wrapping ErrBadTXT. The returned Service has Kind, DeviceID, Fingerprint,
// Name, URLs and Proto set.
func ParseTXT(kind Kind, fields []string) (Service, error) {
	s := Service{Kind: kind}
	if !kind.valid() {
		return s, fmt.Errorf("%w: unknown kind %d", ErrBadTXT, kind)
	}
	if len(fields) > MaxTXTFields {
		return s, fmt.Errorf("%w: %d strings, at most %d", ErrBadTXT, len(fields), MaxTXTFields)
	}
	seen := map[string]bool{}
	for _, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			if f == "" {
				continue // an empty TXT record is legal DNS-SD
			}
			return s, fmt.Errorf("%w: string %.40q has no '='", ErrBadTXT, f)
		}
		key = strings.ToLower(key)
		if seen[key] && key != "url" {
			return s, fmt.Errorf("%w: key %.20q repeated", ErrBadTXT, key)
		}
		seen[key] = true
		var err error
		switch {
		case key == "v":
			s.Proto, err = parseProto(val)
		case key == "id" && kind == Device:
			s.DeviceID, err = checkID(val)
		case key == "dir" && kind == Device, key == "fp" && kind == Directory:
			s.Fingerprint, err = checkID(val)
		case key == "name":
			s.Name, err = checkName(val)
		case key == "url" && kind == Directory:
			var u string
			if u, err = checkURL(val); err == nil && len(s.URLs) < MaxURLs {
				s.URLs = append(s.URLs, u)
			}
		}
		if err != nil {
			return s, fmt.Errorf("%w: %s: %w", ErrBadTXT, key, err)
		}
	}
	if !seen["v"] {
		return s, fmt.Errorf("%w: no v= version", ErrBadTXT)
	}
	switch {
	case kind == Device && !seen["id"]:
		return s, fmt.Errorf("%w: no id= device ID", ErrBadTXT)
	case kind == Directory && !seen["fp"]:
		return s, fmt.Errorf("%w: no fp= fingerprint", ErrBadTXT)
	}
	return s, nil
}

func parseProto(v string) (int, error) {
	if v == "" || len(v) > 5 {
		return 0, errors.New("version must be 1 to 5 digits")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 || v[0] == '+' {
		return 0, fmt.Errorf("version %q is not a number from 1 to 65535", v)
	}
	return n, nil
}

// checkID accepts base32-style identifiers: ASCII letters, digits and
// dashes, 1 to MaxIDLen bytes.
func checkID(v string) (string, error) {
	if v == "" || len(v) > MaxIDLen {
		return "", fmt.Errorf("length %d, want 1 to %d", len(v), MaxIDLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "", fmt.Errorf("byte %#x at %d is not a letter, digit or '-'", c, i)
		}
	}
	return v, nil
}

func checkName(v string) (string, error) {
	if len(v) > MaxNameLen {
		return "", fmt.Errorf("length %d, at most %d", len(v), MaxNameLen)
	}
	if !utf8.ValidString(v) {
		return "", errors.New("not UTF-8")
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("unprintable character %U", r)
		}
	}
	return v, nil
}

// checkURL accepts a path ("/x") or an http(s) URL of printable ASCII.
func checkURL(v string) (string, error) {
	if v == "" || len(v) > MaxURLLen {
		return "", fmt.Errorf("length %d, want 1 to %d", len(v), MaxURLLen)
	}
	if !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		return "", errors.New("must be a path starting with '/' or an http(s) URL")
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return "", fmt.Errorf("byte %#x at %d is not printable ASCII", v[i], i)
		}
	}
	return v, nil
}

// checkInstance accepts one DNS label of letters, digits, '-' and '_'.
func checkInstance(v string) error {
	if v == "" || len(v) > MaxInstanceLen {
		return fmt.Errorf("instance name length %d, want 1 to %d", len(v), MaxInstanceLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("instance name byte %#x at %d is not a letter, digit, '-' or '_'", c, i)
		}
	}
	return nil
}

// instanceFromName extracts the instance label from a fully qualified
// service instance name "<instance>.<service>.local.".
func instanceFromName(kind Kind, fqdn string) (string, error) {
	inst, ok := strings.CutSuffix(strings.ToLower(fqdn), "."+kind.String()+".local.")
	if !ok {
		return "", fmt.Errorf("name %.80q is not under %s.local", fqdn, kind)
	}
	// Keep the original case of the label.
	inst = fqdn[:len(inst)]
	if err := checkInstance(inst); err != nil {
		return "", err
	}
	return inst, nil
}
