package sqlite

import (
	"testing"

	"github.com/trent-kms/trent/internal/store/storetest"
)

func TestAuditIntents(t *testing.T) {
	storetest.RunAuditIntents(t, func(t *testing.T) storetest.IntentsStore { return openTemp(t) })
}
