package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/trent-kms/trent/internal/apierr"
)

// RootRotator is a Backend that can rotate its root key while it serves
// (internal/app/rotate.go). The front serves POST /sys/rotate-root only
// for one.
type RootRotator interface {
	// RotateRoot checks the signed request (r, body) as Seal does, then
	// makes a new root key and rewraps every stored secret with it. It
	// returns when done. Errors as Seal's, plus ErrRefused (400) for a
	// malformed body or unseal shares that do not open the seal, and
	// ErrConflict (409) while sealed.
	RotateRoot(ctx context.Context, r *http.Request, body []byte) (RotateStatus, error)
}

// RotateStatus is what POST /sys/rotate-root answers: the seal status,
// the root key's generation (0 for an installation never rotated) and
// how many stored secrets this run rewrapped.
type RotateStatus struct {
	SealStatus
	Generation uint32 `json:"root_generation"`
	Rewrapped  int    `json:"rewrapped"`
}

// maxRotateBody bounds POST /sys/rotate-root's body: up to 255 unseal
// shares of under 200 characters each.
const maxRotateBody = 64 << 10

type rotateResponse struct {
	RotateStatus
	Error string `json:"error,omitempty"`
}

func (f *Front) rotateRoot(w http.ResponseWriter, r *http.Request, rr RootRotator) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxRotateBody)); err != nil {
		clear(buf.Bytes())
		f.recordSys(r, failSys(NewSysEvent(r, "RotateRoot", false), "ValidationException", "The request body could not be read or is too large."))
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "could not read the request body", http.StatusBadRequest)
		}
		return
	}
	body := buf.Bytes()
	defer clear(body)
	// The backend records the event, with the caller it authenticated.
	st, err := rr.RotateRoot(r.Context(), r, body)
	var ae *apierr.Error
	status, msg := http.StatusOK, ""
	switch {
	case err == nil:
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrRefused), errors.Is(err, ErrConflict):
		f.log.Warn("root key rotation refused", "source_ip", sourceIP(r), "err", err)
		status, msg = http.StatusForbidden, err.Error()
		if errors.Is(err, ErrRefused) {
			status = http.StatusBadRequest
		} else if errors.Is(err, ErrConflict) {
			status = http.StatusConflict
		}
	case errors.As(err, &ae) && ae.Code != apierr.KMSInternal:
		f.log.Warn("root key rotation refused", "source_ip", sourceIP(r), "err", err)
		status, msg = apierr.HTTPStatus(ae.Code), ae.Error()
	default:
		f.log.Error("root key rotation failed", "source_ip", sourceIP(r), "err", apierr.ForLog(err))
		// As the seal: the cause (a store's or HSM's error) may name
		// paths and hosts, and stays in the server's log.
		status, msg = http.StatusInternalServerError, "root key rotation failed; the server's log says why"
	}
	writeJSON(w, status, rotateResponse{st, msg})
}
