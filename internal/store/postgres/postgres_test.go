package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/storetest"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// The tests run against a throwaway PostgreSQL cluster that TestMain starts
// (internal/testenv/pgtest); each test gets a database of its own.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openTest opens a store on a new, empty database.
func openTest(t *testing.T) *DB {
	t.Helper()
	url := pgtest.Database(t)
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}
