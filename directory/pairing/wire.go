package pairing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/kith-media/kith/share/identity"
)

// Endpoint paths on the directory.
const (
	StartPath  = "/v1/pair/start"
	FinishPath = "/v1/pair/finish"
)

// Error codes the directory answers with.
const (
	CodeNoCode    = "no_code"    // 409: no join code is showing
	CodeGone      = "code_gone"  // 410: expired or tries used up
	CodeWrongCode = "wrong_code" // 403: the proof did not match
)

// StartRequest is the body of POST /v1/pair/start.
type StartRequest struct {
	Device identity.ID `json:"device"`
	Nonce  []byte      `json:"nonce"` // base64 in JSON
}

// StartAnswer is the directory's answer to a start.
type StartAnswer struct {
	Session []byte `json:"session"`
	Nonce   []byte `json:"nonce"`
}

// FinishRequest is the body of POST /v1/pair/finish.
type FinishRequest struct {
	Session []byte `json:"session"`
	Proof   []byte `json:"proof"`
}

// FinishAnswer is the directory's answer to a right proof.
type FinishAnswer struct {
	Proof []byte `json:"proof"`
}

// ErrBadMessage is wrapped by every decoding error.
var ErrBadMessage = errors.New("bad pairing message")

// decode reads exactly one JSON object of at most MaxBody bytes with no
// unknown fields.
func decode(b []byte, v any) error {
	if len(b) > MaxBody {
		return fmt.Errorf("%w: %d bytes, over %d", ErrBadMessage, len(b), MaxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrBadMessage)
	}
	return nil
}

func checkLen(field string, b []byte, n int) error {
	if len(b) != n {
		return fmt.Errorf("%w: %s is %d bytes, want %d", ErrBadMessage, field, len(b), n)
	}
	return nil
}

// DecodeStart parses and checks a StartRequest.
func DecodeStart(b []byte) (StartRequest, error) {
	var r StartRequest
	if err := decode(b, &r); err != nil {
		return StartRequest{}, err
	}
	id, err := identity.ParseID(string(r.Device))
	if err != nil || id != r.Device {
		return StartRequest{}, fmt.Errorf("%w: device is not a canonical device ID", ErrBadMessage)
	}
	if err := checkLen("nonce", r.Nonce, NonceSize); err != nil {
		return StartRequest{}, err
	}
	return r, nil
}

// DecodeStartAnswer parses and checks a StartAnswer.
func DecodeStartAnswer(b []byte) (StartAnswer, error) {
	var a StartAnswer
	if err := decode(b, &a); err != nil {
		return StartAnswer{}, err
	}
	if err := checkLen("session", a.Session, SessionSize); err != nil {
		return StartAnswer{}, err
	}
	if err := checkLen("nonce", a.Nonce, NonceSize); err != nil {
		return StartAnswer{}, err
	}
	return a, nil
}

// DecodeFinish parses and checks a FinishRequest.
func DecodeFinish(b []byte) (FinishRequest, error) {
	var r FinishRequest
	if err := decode(b, &r); err != nil {
		return FinishRequest{}, err
	}
	if err := checkLen("session", r.Session, SessionSize); err != nil {
		return FinishRequest{}, err
	}
	if err := checkLen("proof", r.Proof, KeySize); err != nil {
		return FinishRequest{}, err
	}
	return r, nil
}

// DecodeFinishAnswer parses and checks a FinishAnswer.
func DecodeFinishAnswer(b []byte) (FinishAnswer, error) {
	var a FinishAnswer
	if err := decode(b, &a); err != nil {
		return FinishAnswer{}, err
	}
	if err := checkLen("proof", a.Proof, KeySize); err != nil {
		return FinishAnswer{}, err
	}
	return a, nil
}
