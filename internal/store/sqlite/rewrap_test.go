package sqlite

import (
	"testing"

	"github.com/trent-kms/trent/internal/store/storetest"
)

func TestRewrapConformance(t *testing.T) {
	storetest.RunRewrap(t, func(t *testing.T) storetest.RewrapStore {
		return openTemp(t)
	})
}
