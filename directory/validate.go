package directory

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Limits on the strings of an announcement.
const (
	MaxAddrLen        = 255 // a host:port (a DNS name is at most 253 bytes)
	MaxPrivateAddrLen = 49  // an IPv6 CIDR: 39 + "/128"
	MaxAccountLen     = 64
)

// ValidateAddr checks one announced peer address: "host:port" where host is
// an IP address without a zone (the zone is free text: a hostile device put
// separators and control bytes there) or a DNS name, and port is 1–65535.
func ValidateAddr(s string) error {
	if len(s) > MaxAddrLen || hasControl(s) || !utf8.ValidString(s) {
		return fmt.Errorf("%.64q is not host:port (at most %d printable bytes)", s, MaxAddrLen)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return fmt.Errorf("%q: port must be 1 to 65535", s)
	}
	if strings.Contains(host, "%") {
		return fmt.Errorf("%q: an address with a zone is not allowed", s)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" || !ip.IsValid() {
			return fmt.Errorf("%q: an address with a zone is not allowed", s)
		}
		return nil
	}
	if strings.Contains(host, ":") || !validHostname(host) {
		return fmt.Errorf("%q: host is neither an IP address nor a DNS name", s)
	}
	return nil
}

// validHostname: labels of 1–63 letters, digits, '-' or '_', 253 bytes at most.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ValidatePrivateAddr checks one announced LAN address: an IP address or a
// CIDR prefix, without a zone.
func ValidatePrivateAddr(s string) error {
	if len(s) > MaxPrivateAddrLen || strings.ContainsAny(s, "%") || hasControl(s) {
		return fmt.Errorf("%.64q is not an IP address or CIDR prefix without a zone", s)
	}
	if _, ok := lanPrefix(s); !ok {
		return fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	return nil
}

// ValidateAnnouncement checks every field of an announcement as the
// directory does on POST /v1/announce (with the default MaxHoldings).
func ValidateAnnouncement(a *Announcement) error {
	return validateAnnouncementMax(a, MaxHoldings)
}

// validateAnnouncementMax checks every field of a with at most maxHoldings
// holdings.
func validateAnnouncementMax(a *Announcement, maxHoldings int) error {
	if len(a.Addrs) > MaxAddrs {
		return fieldErrorf("addrs", "at most %d addresses", MaxAddrs)
	}
	for _, ad := range a.Addrs {
		if err := ValidateAddr(ad); err != nil {
			return fieldErrorf("addrs", "%v", err)
		}
	}
	if len(a.PrivateAddrs) > MaxAddrs {
		return fieldErrorf("private_addrs", "at most %d addresses", MaxAddrs)
	}
	for _, p := range a.PrivateAddrs {
		if err := ValidatePrivateAddr(p); err != nil {
			return fieldErrorf("private_addrs", "%v", err)
		}
	}
	if len(a.Relay) > 255 || a.Relay != "" && ValidateAddr(a.Relay) != nil {
		return fieldErrorf("relay", "not a host:port")
	}
	if a.HoldingsSame != nil && (len(a.HoldingsSame) != sha256.Size || len(a.Holdings) > 0) {
		return fieldErrorf("holdings_same", "a %d-byte digest, without holdings", sha256.Size)
	}
	if len(a.Holdings) > maxHoldings {
		return fieldErrorf("holdings", "at most %d holdings per device", maxHoldings)
	}
	seen := make(map[sealed.ContentID]bool, len(a.Holdings))
	for i, h := range a.Holdings {
		if seen[h.Content] {
			return fieldErrorf(fmt.Sprintf("holdings[%d]", i), "content %s listed twice", h.Content)
		}
		seen[h.Content] = true
		if err := h.Policy.Validate(); err != nil {
			return fieldErrorf(fmt.Sprintf("holdings[%d]", i), "%s", err.(*Error).Message)
		}
	}
	if a.Load < 0 || a.Load > 1_000_000 {
		return fieldErrorf("load", "must be 0 to 1000000")
	}
	if len(a.RTTs) > MaxRTTs {
		return fieldErrorf("rtts", "at most %d entries", MaxRTTs)
	}
	for k, v := range a.RTTs {
		if _, err := identity.ParseID(k); err != nil || v < 0 || v > 600_000 {
			return fieldErrorf("rtts", "entry %.64q: want a device ID and 0 to 600000 ms", k)
		}
	}
	return nil
}

// validateCandidateDevice checks the fields a candidate shares with every
// other holding of its device.
func validateCandidateDevice(h *Candidate) error {
	if _, err := identity.ParseID(string(h.Device)); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	if a, err := NormalizeAccount(h.Account); err != nil || a != h.Account {
		return fmt.Errorf("account %.64q is not a normalized account name", h.Account)
	}
	if h.PublicIP != "" {
		if ip, err := netip.ParseAddr(h.PublicIP); err != nil || hasControl(h.PublicIP) || len(ip.Zone()) > 16 {
			return fmt.Errorf("public ip %.64q is not an IP address", h.PublicIP)
		}
	}
	a := Announcement{Addrs: h.Addrs, PrivateAddrs: h.PrivateAddrs, Load: h.Load}
	return validateAnnouncementMax(&a, 0)
}
