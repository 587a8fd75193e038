package directory

import (
	"strings"

	"github.com/kith-media/kith/share/identity"
)

// Policy modes. The empty mode means PolicyAnyone.
const (
	PolicyAnyone    = "anyone"    // any enrolled device of this network
	PolicyHousehold = "household" // only devices of the owner's account
	PolicyList      = "list"      // the owner's account plus the devices or accounts in Allow
	PolicyNobody    = "nobody"    // no one, not even the owner's other devices
)

// MaxPolicyEntries caps Allow and Deny of one policy.
const MaxPolicyEntries = 256

// Policy is an owner's copy restriction on one holding: who may fetch the
// ciphertext from the owner's device (and so who a relayed registration may
// come from). Deny always wins over every mode.
type Policy struct {
	Mode  string   `json:"mode"`            // "anyone" | "household" | "list" | "nobody"; "" = "anyone"
	Allow []string `json:"allow,omitempty"` // device IDs or account names (mode "list")
	Deny  []string `json:"deny,omitempty"`  // device IDs or account names, refused in every mode
}

// Allows reports whether a device peer of account peerAccount ("" when
// unknown) may copy from a holding owned by ownerAccount under p. It is the
// one rule shared by the directory (when listing suppliers and accepting
// relayed registrations) and by peers (when serving chunks). Unknown modes
// allow no one, so a newer policy never opens up an older peer.
func (p Policy) Allows(ownerAccount string, peer identity.ID, peerAccount string) bool {
	if matchAny(p.Deny, peer, peerAccount) {
		return false
	}
	sameAccount := peerAccount != "" && ownerAccount != "" && strings.EqualFold(peerAccount, ownerAccount)
	switch p.Mode {
	case "", PolicyAnyone:
		return true
	case PolicyHousehold:
		return sameAccount
	case PolicyList:
		return sameAccount || matchAny(p.Allow, peer, peerAccount)
	default: // PolicyNobody and anything unknown
		return false
	}
}

// Validate checks the mode and the size of the lists.
func (p Policy) Validate() error {
	switch p.Mode {
	case "", PolicyAnyone, PolicyHousehold, PolicyList, PolicyNobody:
	default:
		return fieldErrorf("policy.mode", "unknown mode %q (want anyone, household, list or nobody)", p.Mode)
	}
	if len(p.Allow) > MaxPolicyEntries || len(p.Deny) > MaxPolicyEntries {
		return fieldErrorf("policy", "at most %d allow and %d deny entries", MaxPolicyEntries, MaxPolicyEntries)
	}
	for _, s := range append(append([]string(nil), p.Allow...), p.Deny...) {
		if s == "" || len(s) > 128 || hasControl(s) {
			return fieldErrorf("policy", "bad entry %q", s)
		}
	}
	return nil
}

// matchAny reports whether list names the device (compared as a normalized
// device ID) or its account (compared case-insensitively).
func matchAny(list []string, peer identity.ID, peerAccount string) bool {
	for _, s := range list {
		if peerAccount != "" && strings.EqualFold(s, peerAccount) {
			return true
		}
		if peer != "" && sameID(s, peer) {
			return true
		}
	}
	return false
}

// sameID compares a written device ID with an ID, ignoring case and dashes.
func sameID(s string, id identity.ID) bool {
	if i, ok := sameIDASCII(s, string(id)); ok {
		return i
	}
	norm := func(v string) string {
		return strings.ToUpper(strings.ReplaceAll(v, "-", ""))
	}
	return norm(s) == norm(string(id))
}

// sameIDASCII is sameID without allocating, for ASCII input (ok false
// otherwise): letters compared case-insensitively, dashes skipped.
func sameIDASCII(a, b string) (same, ok bool) {
	i, j := 0, 0
	for {
		for i < len(a) && a[i] == '-' {
			i++
		}
		for j < len(b) && b[j] == '-' {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b), true
		}
		x, y := a[i], b[j]
		if x >= 0x80 || y >= 0x80 {
			return false, false
		}
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false, true
		}
		i, j = i+1, j+1
	}
}

// hasControl reports whether s has ASCII control characters (never valid
// in IDs, account names or addresses; stores use them as separators).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
