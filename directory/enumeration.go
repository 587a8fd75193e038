package directory

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"github.com/kith-media/kith/share/identity"
)

// What one device may learn of others (issue 11: enumeration). A supplier
// list names the account of the asker's own devices only; a whois of
// another account's device answers its ID, keys and revocation, and its
// account only when the asker's own announced policies name that account
// (a peer enforcing "list" or a Deny by account needs exactly that);
// otherwise a pseudonym stands for the account.

// ownAccount is owner when it is the asker's own account, else "".
func ownAccount(owner, asker string) string {
	if owner != "" && strings.EqualFold(owner, asker) {
		return owner
	}
	return ""
}

// PseudonymPrefix starts every account pseudonym; no account name can
// start with it (NormalizeAccount), so a pseudonym never matches an Allow
// or Deny entry naming an account, nor the asker's own account.
const PseudonymPrefix = "~"

// pseudonymKey keys account pseudonyms; it lives as long as the process.
var pseudonymKey = func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("directory: no randomness for pseudonyms: " + err.Error())
	}
	return k
}()

// pseudonym stands for account when answering asker: stable for one asker
// and one account (so a peer can tell two devices of one household apart
// from two of different ones), different for another asker, and not
// reversible.
func pseudonym(asker, account string) string {
	m := hmac.New(sha256.New, pseudonymKey)
	m.Write([]byte(strings.ToLower(asker)))
	m.Write([]byte{0})
	m.Write([]byte(strings.ToLower(account)))
	return PseudonymPrefix + strings.ToLower(base32.StdEncoding.EncodeToString(m.Sum(nil))[:16])
}

// namedIn reports whether account is named in an Allow or Deny list of a
// holding device dev announced (and still has in the index).
func (ix *onlineIndex) namedIn(dev identity.ID, account string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	d := ix.devs[dev]
	if d == nil {
		return false
	}
	seen := make(map[int32]bool)
	for _, r := range d.held {
		i := ix.buckets[r.bucket].holders[r.pos].policy
		p := ix.pols[i].p
		if p == nil || seen[i] {
			continue
		}
		seen[i] = true
		for _, l := range [][]string{p.Allow, p.Deny} {
			for _, e := range l {
				if strings.EqualFold(e, account) {
					return true
				}
			}
		}
	}
	return false
}

// whoisView is what asker may see of device d.
func (s *Server) whoisView(ix *onlineIndex, asker *Device, d *Device) *Device {
	if strings.EqualFold(d.Account, asker.Account) {
		return d
	}
	v := &Device{ID: d.ID, Keys: d.Keys, Revoked: d.Revoked, Account: pseudonym(asker.Account, d.Account)}
	if ix != nil && ix.namedIn(asker.ID, d.Account) {
		v.Account = d.Account
	}
	return v
}
