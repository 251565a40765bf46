package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"path/filepath"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/store/sqlite"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// TestAuditSignerFirstStartRace: several nodes starting for the first
// time at once, each on its own connection to one store, all find no
// audit signing key and make one; they end up signing with one key, the
// one stored. (With a plain put, each keeps its own and the last one
// written wins the row: the others' digests verify against no stored
// key.)
func TestAuditSignerFirstStartRace(t *testing.T) {
	const nodes = 6
	for _, backend := range []struct {
		name string
		open func(t *testing.T) func() store.Store
	}{
		{"sqlite", func(t *testing.T) func() store.Store {
			path := filepath.Join(t.TempDir(), "trent.db")
			return func() store.Store {
				st, err := sqlite.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
		}},
		{"postgres", func(t *testing.T) func() store.Store {
			c := pgtest.StartForTest(t)
			url, err := c.NewDatabase(t.Context(), "")
			if err != nil {
				t.Fatal(err)
			}
			return func() store.Store {
				st, err := postgres.Open(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
		}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			open := backend.open(t)
			raw, err := seal.GenerateRootKey()
			if err != nil {
				t.Fatal(err)
			}
			apps := make([]*App, nodes)
			for i := range apps {
				st := open()
				t.Cleanup(func() { st.Close() })
				root, err := seal.NewRootKey(bytes.Clone(raw))
				if err != nil {
					t.Fatal(err)
				}
				apps[i] = &App{Store: st, root: root}
			}
			pubs := make([][]byte, nodes)
			errs := make([]error, nodes)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, a := range apps {
				wg.Go(func() {
					<-start
					s, err := a.auditSigner(context.Background())
					if err == nil {
						pubs[i], err = x509.MarshalPKIXPublicKey(s.Public())
					}
					errs[i] = err
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("node %d: %v", i, err)
				}
			}
			// And the key every node signs with is the stored one.
			stored, err := apps[0].auditSigner(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want, _ := x509.MarshalPKIXPublicKey(stored.Public())
			for i, p := range pubs {
				if !bytes.Equal(p, want) {
					t.Errorf("node %d signs with a key that is not the stored audit signing key", i)
				}
			}
		})
	}
}
