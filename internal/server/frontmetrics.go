package server

import (
	"errors"
	"net/http"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/ids"
)

// signedMetrics serves the metrics on the API listener to the operator
// alone. The metrics describe the whole installation — every account's
// keys and traffic — so, as AWS shows an account's CloudWatch metrics
// only to signed requests of that account, Trent shows them only to a
// request SigV4-signed by the root user of the installation's first
// account (the one that may seal it). Prometheus, which cannot sign,
// scrapes the --metrics-listen listener instead.
type signedMetrics struct {
	h         http.Handler
	authorize func(*http.Request) error
}

// ServeMetricsWith makes f answer GET /metrics with h, for requests that
// authorize accepts: nil, or an error wrapping ErrForbidden (403), or an
// *apierr.Error for a bad signature, or ErrConflict while sealed (503).
// Call it before f serves.
func (f *Front) ServeMetricsWith(h http.Handler, authorize func(*http.Request) error) {
	f.metrics = &signedMetrics{h: h, authorize: authorize}
}

func (f *Front) serveMetrics(w http.ResponseWriter, r *http.Request) {
	err := f.metrics.authorize(r)
	if err == nil {
		f.metrics.h.ServeHTTP(w, r)
		return
	}
	w.Header()["X-Amzn-Requestid"] = []string{ids.NewUUID()}
	var ae *apierr.Error
	switch {
	case errors.Is(err, ErrConflict):
		awsproto.WriteError(w, apierr.New(apierr.ServiceUnavailable, SealedMessage))
	case errors.Is(err, ErrForbidden):
		f.log.Warn("metrics refused", "source_ip", sourceIP(r), "err", err)
		awsproto.WriteError(w, apierr.New(apierr.AccessDenied, "%s", err.Error()))
	case errors.As(err, &ae):
		awsproto.WriteError(w, ae)
	default:
		awsproto.WriteError(w, apierr.Internal(err))
	}
}
