package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/store/sqlite"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// BackendEnv names the store Start puts its installations in: unset or
// "sqlite" for the dev-mode SQLite data dir, "postgres" for a fresh
// database on the test binary's throwaway PostgreSQL cluster (its
// TestMain must call pgtest.Main; see MainBackend). `make unit` runs the
// KMS, authorization and audit end-to-end tests a second time with it set.
const BackendEnv = "TRENT_TEST_BACKEND"

// OnPostgres reports whether Start makes its installations on PostgreSQL.
func OnPostgres() bool { return os.Getenv(BackendEnv) == "postgres" }

// Backend is the store Start uses, "sqlite" or "postgres", for messages.
func Backend() string {
	if OnPostgres() {
		return "postgres"
	}
	return "sqlite"
}

// MainBackend runs the test binary's tests: under TRENT_TEST_BACKEND=postgres
// with a PostgreSQL cluster for them (pgtest.Main), otherwise as they are,
// so that the SQLite run pays nothing for PostgreSQL. Call it from TestMain
// in place of m.Run.
func MainBackend(m *testing.M) int {
	if b := os.Getenv(BackendEnv); b != "" && b != "sqlite" && b != "postgres" {
		// A misspelt backend would otherwise be a silent second SQLite run.
		fmt.Fprintf(os.Stderr, "%s=%q: want sqlite or postgres\n", BackendEnv, b)
		return 2
	}
	if OnPostgres() {
		return pgtest.Main(m)
	}
	return m.Run()
}

// SkipOnPostgres skips t when Start makes its installations on
// PostgreSQL, for a test of something only the SQLite store has (its
// file, its locking); why says what.
func SkipOnPostgres(t testing.TB, why string) {
	t.Helper()
	if OnPostgres() {
		t.Skip("SQLite only: " + why)
	}
}

// installation is a PostgreSQL installation Start made for a data dir, so
// that starting again on that dir (WithDataDir, a restart) opens the same
// database, as reopening a SQLite data dir opens the same file.
type installation struct{ url, sealKeyFile string }

var (
	installsMu sync.Mutex
	installs   = map[string]installation{}

	dbMu       sync.Mutex
	templateDB string   // a database with the schema in place, copied for new ones
	seeds      []seed   // the rows the migrations put in templateDB
	idle       []string // databases emptied by recycle, for reuse
)

// seed is the rows of one table of a newly migrated database, as JSON.
type seed struct{ table, rows string }

// fresh returns a database with the schema in place and no rows, for t:
// one that an earlier test emptied, or else a new copy of a migrated
// template. When t ends it is emptied for the next test (recycle). Emptying
// the tables (tens of milliseconds) is far cheaper than CREATE DATABASE
// (several hundred on a loaded machine), and most tests take less.
func fresh(t testing.TB, c *pgtest.Cluster) string {
	t.Helper()
	ctx := context.Background()
	dbMu.Lock()
	var url string
	if n := len(idle); n > 0 {
		url, idle = idle[n-1], idle[:n-1]
	}
	if url == "" && templateDB == "" {
		tpl, err := c.NewDatabase(ctx, "")
		if err == nil {
			var db *postgres.DB
			if db, err = postgres.Open(ctx, tpl); err == nil {
				db.Close()
				if seeds, err = readSeeds(ctx, tpl); err == nil {
					templateDB = tpl
				}
			}
		}
		if err != nil {
			dbMu.Unlock()
			t.Fatalf("testenv: PostgreSQL template database: %v", err)
		}
	}
	dbMu.Unlock()
	if url == "" {
		var err error
		if url, err = c.NewDatabase(ctx, templateDB); err != nil {
			t.Fatalf("testenv: PostgreSQL: %v", err)
		}
	}
	t.Cleanup(func() { recycle(c, url) })
	return url
}

// tablesQuery lists a database's tables but the migrations' record.
const tablesQuery = `SELECT quote_ident(tablename) FROM pg_tables
	WHERE schemaname = current_schema() AND tablename <> 'schema_migrations' ORDER BY 1`

// readSeeds returns the rows of the tables the migrations left rows in
// (counters such as the authorization generation).
func readSeeds(ctx context.Context, url string) ([]seed, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, tablesQuery)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []seed
	for _, tb := range tables {
		var js *string
		if err := conn.QueryRow(ctx, "SELECT json_agg(t)::text FROM "+tb+" t").Scan(&js); err != nil {
			return nil, err
		}
		if js != nil {
			out = append(out, seed{tb, *js})
		}
	}
	return out, nil
}

// recycle empties the database at url — every table but the migrations'
// record back to the rows the migrations left — and keeps it for another
// test; one that cannot be emptied is dropped. It runs once the test has
// closed what it opened on it.
func recycle(c *pgtest.Cluster, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := func() error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		rows, _ := conn.Query(ctx, tablesQuery)
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx) // a no-op once committed
		// A session the test left open must not stall the next test.
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
			return err
		}
		if len(tables) > 0 {
			if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(tables, ", ")+" RESTART IDENTITY CASCADE"); err != nil {
				return err
			}
		}
		for _, s := range seeds {
			if _, err := tx.Exec(ctx, "INSERT INTO "+s.table+" SELECT * FROM json_populate_recordset(NULL::"+s.table+", $1::json)", s.rows); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	}()
	if err != nil {
		_ = c.DropDatabase(ctx, url)
		return
	}
	dbMu.Lock()
	idle = append(idle, url)
	dbMu.Unlock()
}

// onDatabase points cfg at a PostgreSQL installation for cfg.DataDir: the
// one made earlier for that dir, or a new one in an empty database
// (fresh). It is made as `trent init --database-url` makes one: a
// production installation sealed by a key file outside the data dir,
// which holds only the node's audit log. (Dev mode does not apply to a
// database; nothing but the dev seal's key file location and the region
// override differs.)
func onDatabase(t testing.TB, cfg *app.Config) {
	t.Helper()
	c := pgtest.Require(t)
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	installsMu.Lock()
	in, ok := installs[dir]
	installsMu.Unlock()
	if !ok {
		in = installation{url: fresh(t, c), sealKeyFile: filepath.Join(t.TempDir(), "seal.key")}
		installsMu.Lock()
		installs[dir] = in
		installsMu.Unlock()
		t.Cleanup(func() {
			installsMu.Lock()
			delete(installs, dir)
			installsMu.Unlock()
		})
		o := app.InitOptions{DatabaseURL: in.url, SealKeyFile: in.sealKeyFile, Region: cfg.Region}
		if err := app.Init(context.Background(), o, nil); err != nil {
			t.Fatalf("testenv: init on PostgreSQL: %v", err)
		}
	}
	cfg.Dev, cfg.Region = false, ""
	cfg.DatabaseURL, cfg.SealKeyFile = in.url, in.sealKeyFile
}

// OpenStore opens an empty store of the backend Start uses, for tests that
// wire services to a store themselves: a SQLite file in a temporary
// directory, or an empty PostgreSQL database (fresh). It is closed when
// t ends.
func OpenStore(t testing.TB) store.Store {
	t.Helper()
	var (
		st  store.Store
		err error
	)
	if OnPostgres() {
		c := pgtest.Require(t)
		st, err = postgres.Open(context.Background(), fresh(t, c))
	} else {
		st, err = sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	}
	if err != nil {
		t.Fatalf("testenv: open %s store: %v", Backend(), err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
