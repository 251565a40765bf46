package audit_test

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/store/sqlite"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// TestLastUsageReplacedLog, on SQLite and on PostgreSQL: a node's stored
// mark says how far its log's uses are in the store, and a start reads
// the log only past it. When the audit directory holds another log than
// the one the mark was taken from — as long as it, longer, or a backup
// restored and written on past it — that log's uses up to the mark are
// not in the store: it must be read from its start, and its
// TrackingStartDate is its own first event's. Before the mark kept its
// line's hash, all three lost those uses.
func TestLastUsageReplacedLog(t *testing.T) {
	signer, err := audit.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) // the first log's events
	t1 := t0.Add(24 * time.Hour)                        // the other log's
	cases := []struct {
		name string
		// other fills dir with the log opened in the place of the first
		// (5 uses of key 0 from t0, its mark at seq 5; first holds it and
		// a backup of it at seq 3): key 1 used through seq 5, key 2 after.
		other func(t *testing.T, first, dir string, use useFunc)
		start time.Time // its TrackingStartDate
	}{
		{"another log as long", func(t *testing.T, _, dir string, use useFunc) {
			l := open(t, signer, dir, nil)
			for i := range 5 {
				use(t, l, t1.Add(time.Duration(i)*time.Second), 1)
			}
			closeLog(t, l)
		}, t1},
		{"another log longer", func(t *testing.T, _, dir string, use useFunc) {
			l := open(t, signer, dir, nil)
			for i := range 8 {
				use(t, l, t1.Add(time.Duration(i)*time.Second), 1+i/5)
			}
			closeLog(t, l)
		}, t1},
		{"a backup restored and written on", func(t *testing.T, first, dir string, use useFunc) {
			testfiles.CopyDir(t, filepath.Join(first, "backup"), dir)
			l := open(t, signer, dir, nil)
			for i := range 4 { // seq 4 to 7
				use(t, l, t1.Add(time.Duration(i)*time.Second), 1+i/2)
			}
			closeLog(t, l)
		}, t0},
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			newStore := func(t *testing.T) store.KeyUses {
				db, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			if kind == "postgres" {
				pg := pgtest.StartForTest(t)
				newStore = func(t *testing.T) store.KeyUses {
					url, err := pg.NewDatabase(context.Background(), "")
					if err != nil {
						t.Fatal(err)
					}
					db, err := postgres.Open(context.Background(), url)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					return db
				}
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					st := newStore(t)
					ctx := context.Background()
					last := map[int]string{} // key → the event id of its last use
					use := func(t *testing.T, l *audit.Log, at time.Time, key int) {
						t.Helper()
						ev := audit.NewAPICall(at, audit.SourceKMS, "Encrypt", false)
						ev.RequestID = fmt.Sprintf("req-%d", at.Unix())
						ev.AddKey(keyARN(key))
						if err := l.Record(ctx, ev); err != nil {
							t.Fatal(err)
						}
						last[key] = ev.EventID
					}
					first := t.TempDir()
					l := open(t, signer, filepath.Join(first, "audit"), st)
					for i := range 5 {
						use(t, l, t0.Add(time.Duration(i)*time.Second), 0)
						if i == 2 {
							testfiles.CopyDir(t, filepath.Join(first, "audit"), filepath.Join(first, "backup"))
						}
					}
					closeLog(t, l)
					if m, err := st.KeyUseMark(ctx, ""); err != nil || m.Seq != 5 {
						t.Fatalf("the first log's mark: %+v, %v; want seq 5", m, err)
					}

					dir := t.TempDir()
					c.other(t, first, dir, use)
					l = open(t, signer, dir, st)
					for key := range 3 {
						want, used := last[key]
						u, ok, start, err := l.LastUsage(ctx, keyARN(key))
						if err != nil || ok != used || u.EventID != want {
							t.Errorf("LastUsage of key %d = %+v, %v, %v; want the use %q", key, u, ok, err, want)
						}
						if !start.Equal(c.start) {
							t.Errorf("TrackingStartDate %v, want the log's first event's %v", start, c.start)
						}
					}
					closeLog(t, l)
				})
			}
		})
	}
}

type useFunc = func(t *testing.T, l *audit.Log, at time.Time, key int)

func keyARN(i int) string {
	return fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-12ab-34cd-56ef-1234567890ab", i)
}

func open(t *testing.T, signer crypto.Signer, dir string, st store.KeyUses) *audit.Log {
	t.Helper()
	l, err := audit.Open(audit.Options{Dir: dir, Signer: signer, KeyUses: st, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func closeLog(t *testing.T, l *audit.Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
