package main

import (
	"context"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// TestRegistrationCachesFollowChanges: registrations read the device and
// the title through caches; a revoke through the directory stops the
// revoked device's next registration at once (though its record was just
// cached), and a withdrawal by `kith-directory withdraw` (another
// process) stops new purchases of the title within the title cache's
// second, while an owner still gets its license. Payment is charged once
// and only for accepted registrations.
func TestRegistrationCachesFollowChanges(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	song, _ := publishInProcess(t, data, "Cached Song", 199)
	other, _ := publishInProcess(t, data, "Other Song", 299)
	third, _ := publishInProcess(t, data, "Third Song", 99)
	p := serve(t, data)
	a1, a2 := enroll(t, p, "alice", "laptop"), enroll(t, p, "alice", "phone")
	bob := enroll(t, p, "bob", "laptop")

	// a2 registers (its device and the title are now cached) ...
	if _, err := a2.c.Register(ctx, a2.seal(t, song, goodCard)); err != nil {
		t.Fatal(err)
	}
	// ... a1 revokes it: a2's next registration is refused at once
	if err := a1.c.RevokeDevice(ctx, a2.id.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := a2.c.Register(ctx, a2.seal(t, other, goodCard)); !isCode(err, http.StatusForbidden, "") {
		t.Fatalf("registration by a device revoked a moment ago: %v, want 403", err)
	}

	// bob buys `other` (cached), then the operator withdraws `third` and
	// `other` from another process: within the title cache's second a
	// new purchase of `third` is refused 410, and bob, who owns `other`,
	// still gets his license
	if _, err := bob.c.Register(ctx, bob.seal(t, other, goodCard)); err != nil {
		t.Fatal(err)
	}
	if _, err := a1.c.Register(ctx, a1.seal(t, song, goodCard)); err != nil { // caches alice's device again
		t.Fatal(err)
	}
	runCmd(t, "withdraw", third, "--data", data)
	runCmd(t, "withdraw", other, "--data", data)
	withdrawn := time.Now()
	var err error
	for {
		_, err = a1.c.Register(ctx, a1.seal(t, third, goodCard))
		if isCode(err, http.StatusGone, directory.CodeWithdrawn) || time.Since(withdrawn) > 3*time.Second {
			break
		}
		if err == nil {
			t.Fatalf("a purchase of %s went through %s after its withdrawal (title cache %s)", third, time.Since(withdrawn), time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !isCode(err, http.StatusGone, directory.CodeWithdrawn) {
		t.Fatalf("purchase of a withdrawn title: %v, want 410 %s", err, directory.CodeWithdrawn)
	}
	if _, err := bob.c.Register(ctx, bob.seal(t, other, goodCard)); err != nil {
		t.Errorf("the owner of a withdrawn title registering again: %v", err)
	}

	p.stop(t)
	st := openStore(t, data)
	ps, err := st.Purchases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	charges, err := st.TestCharges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// alice: song (a2's purchase stands for the account; a1's was a
	// repeat); bob: other. Nothing for third, nothing for the revoked device.
	paid := map[string]bool{}
	for _, pu := range ps {
		if pu.State != directory.PurchasePaid {
			t.Errorf("purchase %+v not paid", pu)
		}
		paid[pu.Account+"/"+pu.TitleID] = true
		if _, ok := charges[hex.EncodeToString(pu.Nonce)]; !ok {
			t.Errorf("purchase %s has no charge", pu.ID)
		}
	}
	if len(ps) != 2 || !paid["alice/"+song] || !paid["bob/"+other] || len(charges) != 2 {
		t.Errorf("purchases %+v, charges %d; want alice/%s and bob/%s, 2 charges", ps, len(charges), song, other)
	}
}
