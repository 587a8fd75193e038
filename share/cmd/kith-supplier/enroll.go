package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/atomicfile"
	"github.com/kith-media/kith/share/identity"
)

// enrolledName is the marker a supplier writes in its data folder once the
// directory has acknowledged its enrolment: one line, the account. It is
// written only after that acknowledgement, so an enrolment that failed
// (wrong password, directory down) is tried again on the next start.
const enrolledName = "enrolled"

// maxEnrolledFile bounds the marker (an account name and a newline).
const maxEnrolledFile = 4 << 10

// ensureEnrolled makes sure the device dc signs as is enrolled under
// account. When the marker names account it trusts it and asks nothing.
// Otherwise it asks the directory (whois of its own device): enrolled
// under account — a folder from before the marker existed, or one whose
// marker was lost — needs no password; not enrolled, it enrolls with
// password; enrolled under another account is an error. The marker is
// written after the directory's answer, never before.
func ensureEnrolled(ctx context.Context, log *slog.Logger, dc *directory.Client, dataDir string, id *identity.Identity,
	account, password, name string) error {
	want, err := directory.NormalizeAccount(account)
	if err != nil {
		return fmt.Errorf("--account: %w", err)
	}
	marker := filepath.Join(dataDir, enrolledName)
	had, err := readMarker(marker)
	if err != nil {
		return err
	}
	if had == want {
		return nil
	}
	d, err := dc.Whois(ctx, id.ID())
	if transient(err) {
		return retryable{fmt.Errorf("asking the directory whether device %s is enrolled: %w", id.ID().Short(), err)}
	}
	switch {
	case err == nil && d.Revoked:
		return fmt.Errorf("device %s is revoked at the directory: start with a new --data folder (a new device key)", id.ID().Short())
	case err == nil && !strings.EqualFold(d.Account, want):
		return fmt.Errorf("device %s is enrolled under another account, not %q: give --account that account, or start with a new --data folder", id.ID().Short(), want)
	case err == nil:
		log.Info("enrolled already", "account", want)
	case errors.Is(err, &directory.Error{Code: directory.CodeUnauthorized}):
		// not enrolled (the directory answers an unknown device 401)
		if password == "" {
			return fmt.Errorf("enrolling under account %q: the password goes in $KITH_PASSWORD, which is empty", want)
		}
		if err := dc.EnrollDevice(ctx, want, password, name); err != nil {
			err = fmt.Errorf("enrolling under account %q: %w", want, err)
			if transient(err) {
				return retryable{err}
			}
			return err
		}
		log.Info("enrolled", "account", want)
	default:
		return fmt.Errorf("asking the directory whether device %s is enrolled: %w", id.ID().Short(), err)
	}
	if err := atomicfile.WriteFile(marker, []byte(want+"\n"), 0o600); err != nil {
		return fmt.Errorf("recording the enrolment: %w", err)
	}
	return nil
}

// enrollLater goes on after a first ensureEnrolled could not reach the
// directory (first, its error): while the supplier serves, it asks again
// after a back-off (directory.Backoff, at most maxEnrollWait) until the
// device is enrolled — then it calls enrolled — or a refusal (wrong
// password, another account, a revoked device, no password) ends the
// supplier with its reason. It returns nil when ctx ends.
func enrollLater(ctx context.Context, log *slog.Logger, first error, enrolled func(), dc *directory.Client, dataDir string,
	id *identity.Identity, account, password, name string) error {
	err := first
	for n := 1; ; n++ {
		var r retryable
		if !errors.As(err, &r) {
			return err
		}
		wait := min(directory.Backoff(n), maxEnrollWait)
		log.Warn("not enrolled yet: the directory cannot be reached; trying again", "in", wait.Round(time.Second), "err", r.err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if err = ensureEnrolled(ctx, log, dc, dataDir, id, account, password, name); err == nil {
			enrolled()
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// maxEnrollWait bounds the wait between two enrolment attempts.
const maxEnrollWait = time.Minute

// retryable is an enrolment error worth trying again later.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// transient reports whether err, from a call to the directory, may pass:
// the directory unreachable (no answer), or answering 5xx or 429. A
// directory whose key is not the pinned fingerprint is not.
func transient(err error) bool {
	if err == nil || errors.Is(err, identity.ErrWrongPeer) || errors.Is(err, context.Canceled) {
		return false
	}
	var de *directory.Error
	if errors.As(err, &de) {
		return de.Status >= 500 || de.Status == http.StatusTooManyRequests
	}
	return true
}

// readMarker returns the account the marker names ("" when there is none).
func readMarker(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxEnrolledFile+1))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxEnrolledFile {
		return "", nil // not ours: ask the directory
	}
	return strings.TrimSpace(string(b)), nil
}
