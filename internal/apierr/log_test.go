package apierr

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestCauseInLogsNotInError(t *testing.T) {
	cause := errors.New("sqlite: put key: disk I/O error")
	internal := Internal(cause)
	for _, tt := range []struct {
		name string
		log  func(*slog.Logger)
		want []string
	}{
		{"the *Error itself", func(l *slog.Logger) { l.Error("x", "err", internal) },
			[]string{"KMSInternalException", "disk I/O error"}},
		{"ForLog of the *Error", func(l *slog.Logger) { l.Error("x", "err", ForLog(internal)) },
			[]string{"KMSInternalException", "disk I/O error"}},
		{"ForLog of a wrapped *Error", func(l *slog.Logger) { l.Error("x", "err", ForLog(fmt.Errorf("rotate key k: %w", internal))) },
			[]string{"rotate key k: KMSInternalException", "disk I/O error"}},
		{"ForLog of a cause that is an *Error with a cause", func(l *slog.Logger) {
			l.Error("x", "err", ForLog(Internal(fmt.Errorf("unwrap: %w", Internal(cause)))))
		}, []string{"unwrap: KMSInternalException", "disk I/O error"}},
		{"ForLog of a plain error", func(l *slog.Logger) { l.Error("x", "err", ForLog(cause)) },
			[]string{"disk I/O error"}},
		{"ForLog of a message-only *Error", func(l *slog.Logger) { l.Error("x", "err", ForLog(New(NotFound, "Key 'k' does not exist"))) },
			[]string{"NotFoundException: Key 'k' does not exist"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.log(slog.New(slog.NewTextHandler(&b, nil)))
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("log line %q lacks %q", b.String(), w)
				}
			}
		})
	}
	// What a caller may see stays free of the cause.
	if got := internal.Error(); strings.Contains(got, "disk") {
		t.Errorf("Error() = %q shows the cause", got)
	}
	if got := fmt.Sprintf("%v", fmt.Errorf("op: %w", internal)); strings.Contains(got, "disk") {
		t.Errorf("a wrapping error's text %q shows the cause", got)
	}
}
