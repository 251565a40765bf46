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
// (internal/testenv/pgtest); each test gets a database of its own, copied
// from one that Open migrated once.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var migrated struct {
	once sync.Once
	url  string
	err  error
}

// template returns the URL of a database with the schema in place and no
// open connections.
func template(t *testing.T) string {
	t.Helper()
	c := pgtest.Require(t)
	migrated.once.Do(func() {
		ctx := context.Background()
		url, err := c.NewDatabase(ctx, "")
		if err != nil {
			migrated.err = err
			return
		}
		db, err := Open(ctx, url)
		if err != nil {
			migrated.err = err
			return
		}
		migrated.url, migrated.err = url, db.Close()
	})
	if migrated.err != nil {
		t.Fatalf("template database: %v", migrated.err)
	}
	return migrated.url
}

// openTest opens a store on a new, empty database.
func openTest(t *testing.T) *DB {
	t.Helper()
	url := pgtest.Database(t, template(t))
	db, err := Open(context.Background(), url)
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
