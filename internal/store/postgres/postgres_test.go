package postgres

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/storetest"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// The tests run against a throwaway PostgreSQL cluster that TestMain starts
// (internal/testenv/pgtest); each test gets a schema of its own in one
// database.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// shared is the database the tests make their schemas in.
var shared struct {
	once sync.Once
	url  string
	err  error
}

func sharedDatabase(t *testing.T) string {
	t.Helper()
	c := pgtest.Require(t)
	shared.once.Do(func() { shared.url, shared.err = c.NewDatabase(context.Background(), "") })
	if shared.err != nil {
		t.Fatalf("shared database: %v", shared.err)
	}
	return shared.url
}

// emptyStore returns the URL of a new, empty schema for t.
func emptyStore(t *testing.T) string { return pgtest.Schema(t, sharedDatabase(t)) }

// openTest opens a store in a new, empty schema.
func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), emptyStore(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

func TestMultiRegionConformance(t *testing.T) {
	storetest.RunMultiRegion(t, func(t *testing.T) store.Store { return openTest(t) })
}
