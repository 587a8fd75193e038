package directory

import (
	"errors"
	"net/http"

	"github.com/kith-media/kith/directory/pairing"
)

// Pairing endpoints (package pairing documents the protocol):
//
//	POST /v1/pair/start   pairing.StartRequest → pairing.StartAnswer
//	POST /v1/pair/finish  pairing.FinishRequest → pairing.FinishAnswer
//
// Both are unsigned (a joining device knows nothing of the directory yet)
// and rate-limited like the password endpoints; the code's own tries bound
// guessing.

// Pairer is the directory's join-code state: the embedded household
// directory shows codes from Pairer().Issue.
func (s *Server) Pairer() *pairing.Pairer { return s.pair }

func newPairer(o Options) (*pairing.Pairer, error) {
	return pairing.NewPairer(pairing.PairerOptions{Identity: o.Identity, CodeFile: o.JoinCodeFile, Now: o.Now, Logger: o.Logger})
}

func (s *Server) pairRoutes(pub func(pattern, route string, h handlerFunc)) {
	pub("POST "+pairing.StartPath, "pair", s.handlePairStart)
	pub("POST "+pairing.FinishPath, "pair", s.handlePairFinish)
}

func (s *Server) handlePairStart(w http.ResponseWriter, r *http.Request, rq *request) error {
	req, err := pairing.DecodeStart(rq.body)
	if err != nil {
		return newError(http.StatusBadRequest, CodeBadRequest, "%v", err)
	}
	ans, err := s.pair.Start(req)
	if err != nil {
		return pairError(err)
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

func (s *Server) handlePairFinish(w http.ResponseWriter, r *http.Request, rq *request) error {
	req, err := pairing.DecodeFinish(rq.body)
	if err != nil {
		return newError(http.StatusBadRequest, CodeBadRequest, "%v", err)
	}
	ans, _, err := s.pair.Finish(req)
	if err != nil {
		return pairError(err)
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

func pairError(err error) error {
	switch {
	case errors.Is(err, pairing.ErrNoCode):
		return newError(http.StatusConflict, pairing.CodeNoCode, "%v", err)
	case errors.Is(err, pairing.ErrCodeGone):
		return newError(http.StatusGone, pairing.CodeGone, "%v", err)
	case errors.Is(err, pairing.ErrWrongCode):
		return newError(http.StatusForbidden, pairing.CodeWrongCode, "%v", err)
	}
	return err
}
