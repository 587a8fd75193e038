package directory

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/kith-media/kith/share/identity"
)

// argon2id parameters (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns a PHC string "$argon2id$v=19$m=19456,t=2,p=1$salt$hash".
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a HashPassword string.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the account does not exist, so the
// answer takes as long as for a wrong password. It is made on first use,
// not when the package initialises: every program that imports the
// package (the app, kithctl, each device process) paid an argon2 hash at
// start, 19 MiB of fresh memory and its CPU, for a value only a directory
// server uses. NewServer makes it, so a server's first unknown account
// takes no longer than the next.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("kith-dummy-password")
	return h
})

// NormalizeAccount lowercases and checks an account name: 1–64 characters
// of a–z, 0–9 and . _ - + @.
func NormalizeAccount(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" || len(n) > 64 {
		return "", fieldErrorf("account", "must be 1 to 64 characters")
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-+@", r)) {
			return "", fieldErrorf("account", "character %q not allowed (use a-z 0-9 . _ - + @)", r)
		}
	}
	return n, nil
}

func checkPasswordRules(pw string) error {
	if utf8.RuneCountInString(pw) < 8 || len(pw) > 1024 {
		return fieldErrorf("password", "must be 8 to 1024 characters")
	}
	return nil
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request, _ *request) error {
	writeJSON(w, http.StatusOK, Info{Name: s.o.Name, Version: Version, ID: s.id.ID(), Keys: s.id.Public()})
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, _ *request) error {
	if _, _, err := s.st.SearchTitles(r.Context(), "", "", 0, 1); err != nil {
		return newError(http.StatusServiceUnavailable, CodeInternal, "store unavailable")
	}
	online := "loading"
	s.idx.mu.RLock()
	if s.idx.loaded {
		online = "loaded"
	}
	s.idx.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "id": string(s.id.ID()), "online": online})
	return nil
}

// handleCreateAccount creates an account. The answer is the same whether
// the name was free or taken (201, the normalized name), and costs the
// same (the password is hashed either way), so it does not tell which
// names exist: a taken name shows only when enrolling with it fails.
func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request, rq *request) error {
	var req createAccountRequest
	if err := decodeStrict(rq.body, &req); err != nil {
		return err
	}
	name, err := NormalizeAccount(req.Account)
	if err != nil {
		return err
	}
	if err := checkPasswordRules(req.Password); err != nil {
		return err
	}
	hash, err := s.hashPassword(r.Context(), req.Password)
	if err != nil {
		return err
	}
	switch err := s.st.CreateAccount(r.Context(), name, hash, s.now()); {
	case errors.Is(err, ErrExists):
		s.log.Info("account creation for a taken name", "account", name, "ip", rq.ip)
	case err != nil:
		return fmt.Errorf("creating account: %w", err)
	default:
		s.log.Info("account created", "account", name, "ip", rq.ip)
	}
	writeJSON(w, http.StatusCreated, map[string]string{"account": name})
	return nil
}

// handleEnroll enrolls the key in the body: the request must be signed by
// that key (proof of possession) and carry the account's password.
func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request, rq *request) error {
	var req enrollRequest
	if err := decodeStrict(rq.body, &req); err != nil {
		return err
	}
	if err := req.Keys.Validate(); err != nil {
		return fieldErrorf("keys", "%v", err)
	}
	id := req.Keys.ID()
	if hid, err := identity.ParseID(r.Header.Get(HeaderDevice)); err != nil || hid != id {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "%s header must name the enrolled key %s", HeaderDevice, id)
	}
	if err := s.verifySignature(r, rq.body, req.Keys.Sign); err != nil {
		return err
	}
	// a NUL is refused by PostgreSQL's text, stored by SQLite: both refuse
	// it here, with the bidi and invisible characters (CheckDeviceName)
	name, err := CheckDeviceName(req.Name)
	if err != nil {
		return err
	}
	account, err := NormalizeAccount(req.Account)
	if err != nil {
		return err
	}
	hash, err := s.st.PasswordHash(r.Context(), account)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("reading account: %w", err)
	}
	if err != nil {
		hash = "" // no such account: the same check against a dummy hash
	}
	ok, err := s.checkPassword(r.Context(), account, hash, req.Password)
	if err != nil {
		return err
	}
	if !ok {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "wrong account or password")
	}
	d := Device{ID: id, Name: name, Account: account, Keys: req.Keys, Created: s.now().UTC()}
	if err := s.st.EnrollDevice(r.Context(), d, s.o.MaxDevices); err != nil {
		if errors.Is(err, ErrExists) {
			return newError(http.StatusConflict, CodeConflict, "device %s is enrolled under another account or revoked", id.Short())
		}
		if lim := (*DeviceLimitError)(nil); errors.As(err, &lim) {
			s.log.Info("enrolment refused: device limit", "account", account, "device", id, "devices", lim.Devices, "max", s.o.MaxDevices)
			return newError(http.StatusForbidden, CodeDeviceLimit, "this account already has %d devices; remove one in Settings", lim.Devices)
		}
		return fmt.Errorf("enrolling device: %w", err)
	}
	s.devices.forget(id)
	s.log.Info("device enrolled", "account", account, "device", id, "name", name)
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request, rq *request) error {
	ds, err := s.st.Devices(r.Context(), rq.device.Account)
	if err != nil {
		return fmt.Errorf("listing devices: %w", err)
	}
	if ds == nil {
		ds = []Device{}
	}
	writeJSON(w, http.StatusOK, devicesResponse{Devices: ds})
	return nil
}

func pathID(r *http.Request) (identity.ID, error) {
	id, err := identity.ParseID(r.PathValue("id"))
	if err != nil {
		return "", fieldErrorf("device id", "%v", err)
	}
	return id, nil
}

func (s *Server) handleWhois(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := s.st.Device(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return newError(http.StatusNotFound, CodeNotFound, "device %s is not enrolled", id.Short())
	}
	if err != nil {
		return fmt.Errorf("reading device: %w", err)
	}
	ix, err := s.online(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.whoisView(ix, rq.device, d))
	return nil
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	unlock := s.members.lock(id)
	defer unlock()
	if err := s.st.RevokeDevice(r.Context(), rq.device.Account, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return newError(http.StatusNotFound, CodeNotFound, "device %s is not enrolled under account %q", id.Short(), rq.device.Account)
		}
		return fmt.Errorf("revoking device: %w", err)
	}
	s.dropDevice(id)
	s.log.Info("device revoked", "account", rq.device.Account, "device", id, "by", rq.device.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleLeave takes the signing device out of the account named in the
// body, which must be the one it is enrolled under (so a leave meant for
// one account cannot undo a later enrollment elsewhere). Its enrollment,
// announcement and holdings go; its key may then be enrolled again, under
// this or another account, with that account's password. Only the device
// itself can ask (the request is signed by its key; there is no device in
// the path or body); a revoked device is refused before this runs and
// stays revoked. Purchases and licenses issued to it stay on record: a
// license names its account, and the directory issues new ones only to
// the account the device is enrolled under.
func (s *Server) handleLeave(w http.ResponseWriter, r *http.Request, rq *request) error {
	var req leaveRequest
	if err := decodeStrict(rq.body, &req); err != nil {
		return err
	}
	account, err := NormalizeAccount(req.Account)
	if err != nil {
		return err
	}
	id := rq.device.ID
	unlock := s.members.lock(id)
	defer unlock()
	if err := s.st.LeaveAccount(r.Context(), account, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return newError(http.StatusConflict, CodeConflict, "device %s is not enrolled under account %q", id.Short(), account)
		}
		return fmt.Errorf("leaving account: %w", err)
	}
	s.dropDevice(id)
	s.log.Info("device left its account", "account", account, "device", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// dropDevice forgets what this server holds in memory of a device that
// was revoked or left its account: its cached enrollment, its last
// announcement and its place in the online index.
func (s *Server) dropDevice(id identity.ID) {
	s.devices.forget(id)
	s.written.forget(id)
	s.askers.forget(id)
	s.idx.remove(id)
	s.o.Origin.Announced(id, nil, s.now())
}
