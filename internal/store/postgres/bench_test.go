package postgres

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlite"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// BenchmarkCreateKey stores keys (each with its first version and three
// tags) from parallel goroutines, on SQLite and on PostgreSQL side by side:
// the writes/s of the two stores. The PostgreSQL cluster is switched to
// fsync=on and synchronous_commit=on for the run, so that both stores
// wait for stable storage on every commit, as in production.
//
//	go test ./internal/store/postgres -run '^$' -bench CreateKey -benchtime 2000x
func BenchmarkCreateKey(b *testing.B) {
	pgtest.Require(b)
	ctx := context.Background()
	durable(b, true)
	b.Cleanup(func() { durable(b, false) })
	open := map[string]func(b *testing.B) store.Store{
		"sqlite": func(b *testing.B) store.Store {
			db, err := sqlite.Open(filepath.Join(b.TempDir(), "trent.db"))
			if err != nil {
				b.Fatal(err)
			}
			return db
		},
		"postgres": func(b *testing.B) store.Store {
			url := pgtest.Database(b, "")
			db, err := Open(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			return db
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s := open[name](b)
			defer s.Close()
			var seq atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("00000000-0000-4000-8000-%012d", seq.Add(1))
					k, v := testKey(id)
					k.Tags = []store.Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "c", Value: "3"}}
					if err := s.CreateKey(ctx, k, v); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}

// durable turns the test cluster's fsync and synchronous_commit on or back
// off (both are reloadable settings).
func durable(b *testing.B, on bool) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.Database(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	v := "off"
	if on {
		v = "on"
	}
	for _, q := range []string{"ALTER SYSTEM SET fsync = " + v, "ALTER SYSTEM SET synchronous_commit = " + v, "SELECT pg_reload_conf()"} {
		if _, err := db.pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
