//go:build !trent_noaudit

package server

import (
	"time"

	"github.com/trent-kms/trent/internal/audit"
)

// auditCompiledOut is true only in a binary built with -tags trent_noaudit,
// which exists to measure what the audit log costs (ratio.sh, audit on
// versus off); such a binary records nothing and says so at start.
const auditCompiledOut = false

// eventStore holds a request's audit event in its answer, so that the
// event costs no allocation of its own.
type eventStore struct {
	call audit.CallEvent
	evs  [2]*audit.Event // Record's argument: the event, and a copy for another account
}

func (s *eventStore) begin(at time.Time, source, name string) *audit.Event {
	return s.call.Init(at, source, name, false)
}

// recordList is an empty list to append the events Record takes to.
func (s *eventStore) recordList() []*audit.Event { return s.evs[:0] }
