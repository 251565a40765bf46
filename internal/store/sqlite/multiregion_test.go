package sqlite

import (
	"testing"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/storetest"
)

func TestMultiRegionConformance(t *testing.T) {
	storetest.RunMultiRegion(t, func(t *testing.T) store.Store { return openTemp(t) })
}
