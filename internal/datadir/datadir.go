package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/atomicfile"
	"github.com/kith-media/kith/internal/settings"
	"github.com/kith-media/kith/share/identity"
)

// Names of the files and folders in a data folder.
const (
	DeviceKeyName     = "device.key"
	DirectoryName     = "directory.json"
	AccountName       = "account"
	LibraryName       = "library"
	InstallName       = "install"
	HouseholdName     = "household"
	ControlSocketName = "kithctl.sock"
	LockName          = "lock"
)

// Env is the environment variable naming the data folder.
const Env = "KITH_DATA"

// Default is the data folder when neither --data nor KITH_DATA is given:
// $XDG_DATA_HOME/kith, else ~/.local/share/kith.
func Default() string { return DefaultFor("kith") }

// DefaultFor is program's default data folder: $XDG_DATA_HOME/program,
// else ~/.local/share/program (kith-directory keeps its own).
func DefaultFor(program string) string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, program)
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", program)
	}
	return program + "-data"
}

// Setting is the --data row of a program's settings table: the flag, its
// environment variable and the default, the same in every program.
func Setting(v *string) settings.Setting {
	return settings.Setting{Flag: "data", Arg: "DIR", Env: Env, Default: Default(), Var: v,
		Help: "data folder: device keys, library, directory, account (the app and kithctl share its layout)"}
}

// Dir is a data folder.
type Dir string

// DeviceKey is the device identity's file.
func (d Dir) DeviceKey() string { return d.join(DeviceKeyName) }

// DirectoryFile is the file naming the directory (Joined, as JSON).
func (d Dir) DirectoryFile() string { return d.join(DirectoryName) }

// AccountFile is the signed-in account's file.
func (d Dir) AccountFile() string { return d.join(AccountName) }

// Library is the library's folder (share.Options.DataDir).
func (d Dir) Library() string { return d.join(LibraryName) }

// Install is the install page's folder (share.Options.InstallDir).
func (d Dir) Install() string { return d.join(InstallName) }

// Household is the embedded household directory's folder (the app).
func (d Dir) Household() string { return d.join(HouseholdName) }

// ControlSocket is kithctl serve's control socket.
func (d Dir) ControlSocket() string { return d.join(ControlSocketName) }

func (d Dir) join(name string) string { return filepath.Join(string(d), name) }

// Open makes the data folder (0700) if needed, takes its lock (Lock) and,
// holding it, migrates an older layout in it (see the package doc). The
// caller keeps the lock while it runs the device and calls unlock after.
func Open(path string, log *slog.Logger) (d Dir, unlock func(), err error) {
	if path == "" {
		return "", nil, errors.New("data folder: no path")
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return "", nil, fmt.Errorf("making data folder: %w", err)
	}
	d = Dir(path)
	if unlock, err = d.Lock(); err != nil {
		return "", nil, err
	}
	if err := d.migrate(log); err != nil {
		unlock()
		return "", nil, fmt.Errorf("data folder %s: %w", path, err)
	}
	return d, unlock, nil
}

// Lock takes the folder for this process (an exclusive flock on DATA/lock,
// LockFileEx on Windows, and on Linux an open-file-description lock beside
// it, all released by unlock or when the process ends): two processes
// running one device would share its key and library. Another holder is an
// error.
//
// A holder that lets go within lockGrace is waited for: a process that is
// just exiting, and, where InUse must take the lock to look (not Linux),
// kithctl's "is the app running this device?" asked at the instant a serve
// starts.
func (d Dir) Lock() (unlock func(), err error) { return d.lock(lockGrace) }

func (d Dir) lock(grace time.Duration) (unlock func(), err error) {
	f, err := os.OpenFile(d.join(LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the data folder: %w", err)
	}
	for wait := grace; ; {
		err = tryLock(f)
		if !errors.Is(err, errHeld) || wait <= 0 {
			break
		}
		time.Sleep(lockRetry)
		wait -= lockRetry
	}
	if err == nil {
		err = markHeld(f)
	}
	if err != nil {
		release(f)
		if errors.Is(err, errHeld) {
			return nil, fmt.Errorf("%w: %s is in use by another Kith process (the app, kithctl serve or kith-supplier): quit that one, or give this one another --data", ErrInUse, d)
		}
		return nil, fmt.Errorf("locking the data folder: %w", err)
	}
	return func() { release(f) }, nil
}

// InUse reports whether another process holds the folder. On Linux it
// asks without taking the lock (F_OFD_GETLK); elsewhere it takes the lock
// for the instant it takes to look (Lock waits that out).
func (d Dir) InUse() (bool, error) {
	f, err := os.OpenFile(d.join(LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("looking at the data folder's lock: %w", err)
	}
	defer f.Close()
	held, err := probeHeld(f)
	if err != nil {
		return false, fmt.Errorf("looking at the data folder's lock: %w", err)
	}
	return held, nil
}

// lockGrace bounds how long Lock waits for a momentary holder.
const (
	lockGrace = 500 * time.Millisecond
	lockRetry = 10 * time.Millisecond
)

// ErrInUse means another process holds the data folder.
var ErrInUse = errors.New("data folder in use")

// errHeld is tryLock's and markHeld's "another process holds the lock".
var errHeld = errors.New("lock held by another process")

// Joined is the directory a device uses (directory.json).
type Joined struct {
	URL         string      `json:"url"` // https://host:port
	Fingerprint identity.ID `json:"fingerprint"`
	Name        string      `json:"name,omitempty"`
	Embedded    bool        `json:"embedded,omitempty"` // this device runs it (household/)
	FoundOnLAN  bool        `json:"found_on_lan,omitempty"`
	// Paired says the directory proved it knows the join code shown on
	// its screen (package directory/pairing). A directory found on the
	// LAN and not paired is never used.
	Paired bool `json:"paired,omitempty"`
}

// String is the URL#fingerprint form.
func (j Joined) String() string { return j.URL + "#" + string(j.Fingerprint) }

// maxDirectoryFile bounds directory.json (a URL, a fingerprint, a name).
const maxDirectoryFile = 16 << 10

// LoadJoined reads directory.json; ok is false when there is none.
func (d Dir) LoadJoined() (j Joined, ok bool, err error) {
	p := d.DirectoryFile()
	b, err := readSmall(p, maxDirectoryFile)
	if errors.Is(err, os.ErrNotExist) {
		return Joined{}, false, nil
	}
	if err != nil {
		return Joined{}, false, fmt.Errorf("reading %s: %w", DirectoryName, err)
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return Joined{}, false, fmt.Errorf("reading %s: %w", DirectoryName, err)
	}
	base, _, err := directory.ParseURL(j.URL)
	if err != nil || base != j.URL || !j.Fingerprint.Valid() {
		return Joined{}, false, fmt.Errorf("reading %s: an https url and a valid fingerprint are required (forget the directory in Settings, or delete %s)", DirectoryName, p)
	}
	return j, true, nil
}

// SaveJoined writes directory.json.
func (d Dir) SaveJoined(j Joined) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(d.DirectoryFile(), append(b, '\n'), 0o600)
}

// maxAccountFile bounds the account file (an account name).
const maxAccountFile = 4 << 10

// LoadAccount reads the signed-in account ("" when signed out or never
// signed in).
func (d Dir) LoadAccount() (string, error) {
	b, err := readSmall(d.AccountFile(), maxAccountFile)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", AccountName, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// SaveAccount records the signed-in account ("" for signed out).
func (d Dir) SaveAccount(account string) error {
	return atomicfile.WriteFile(d.AccountFile(), []byte(account+"\n"), 0o600)
}

// readSmall reads a file of at most limit bytes.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: longer than %d bytes", filepath.Base(path), limit)
	}
	return b, nil
}
