package kms

import (
	"fmt"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/store"
)

// TestRetryConflict: a write that lost a compare-and-swap is applied again
// until it wins, up to conflictAttempts, then answered ConflictException;
// any other error ends the retries at once.
func TestRetryConflict(t *testing.T) {
	lost := apierr.Internal(fmt.Errorf("update key k: %w", store.ErrConflict))
	other := apierr.New(apierr.Disabled, "disabled")
	tests := []struct {
		name      string
		fails     int   // attempts that fail before one succeeds
		err       error // what a failing attempt returns
		wantCalls int
		wantCode  string // "" for success
	}{
		{"wins at once", 0, lost, 1, ""},
		{"wins on the third", 2, lost, 3, ""},
		{"wins on the last", conflictAttempts - 1, lost, conflictAttempts, ""},
		{"never wins", 1000, lost, conflictAttempts, apierr.Conflict},
		{"other error not retried", 1000, other, 1, apierr.Disabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			e := &keyEntry{}
			got, err := retryConflict(func() (*keyEntry, error) {
				calls++
				if calls <= tt.fails {
					return nil, tt.err
				}
				return e, nil
			})
			if calls != tt.wantCalls {
				t.Errorf("%d attempts, want %d", calls, tt.wantCalls)
			}
			if tt.wantCode == "" {
				if err != nil || got != e {
					t.Fatalf("got %v, %v; want the entry", got, err)
				}
				return
			}
			if !apierr.Is(err, tt.wantCode) {
				t.Fatalf("err %v, want %s", err, tt.wantCode)
			}
		})
	}
}
