package sqlite

import (
	"testing"

	"github.com/trent-kms/trent/internal/store/storetest"
)

func TestKeyUsesConformance(t *testing.T) {
	storetest.RunKeyUses(t, func(t *testing.T) storetest.KeyUsesStore { return openTemp(t) })
}
