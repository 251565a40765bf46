package kms

import "testing"

// TestEveryRowHasAQuota: a row added to the table without a request quota
// would never be throttled.
func TestEveryRowHasAQuota(t *testing.T) {
	for name, op := range operations {
		if op.invoke == nil {
			continue // not implemented: answers UnsupportedOperationException, touches nothing
		}
		if op.quota.by == quotaNone {
			t.Errorf("%s counts against no request quota (internal/throttle classes.go)", name)
		}
	}
}
