package share

import (
	"context"
	"fmt"
)

// SetAccount changes the owner's account at run time (sign-in, sign-out
// with "", a switch): the peer server's household rules and new
// registrations follow at once, what the server learnt of its callers'
// accounts is forgotten (the directory answers a device's questions
// according to its account), licenses of another account are no longer
// used, and the holdings are announced again. The node keeps serving;
// nothing is rebuilt. SetAccount does not tell the directory: enrolling is
// the directory client's EnrollDevice, leaving is LeaveAccount.
func (n *Node) SetAccount(account string) {
	n.mu.Lock()
	n.account = account
	n.mu.Unlock()
	n.srv.SetOwner(account)
	n.srv.ForgetAccounts()
	n.announceSoon()
}

// LeaveAccount signs the device out: it leaves its account at the
// directory (its enrollment and holdings there go, and it may then enroll
// under another account) and then stops acting for it (SetAccount("")).
// If the directory cannot be told, nothing changes and the error says why.
// Signed out already, or without a directory, it only signs out locally.
func (n *Node) LeaveAccount(ctx context.Context) error {
	account := n.accountName()
	if account != "" && n.dirClient() != nil {
		if err := n.dirClient().LeaveAccount(ctx, account); err != nil {
			return fmt.Errorf("leaving account %q: %w", account, err)
		}
	}
	n.SetAccount("")
	return nil
}

// Account is the owner's account now ("" while signed out).
func (n *Node) Account() string { return n.accountName() }

func (n *Node) accountName() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.account
}
