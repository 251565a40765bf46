package postgres

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// Tests of what the store promises to several nodes sharing one database:
// each node is a DB of its own (its own pool), as on separate machines.

func testKey(id string) (store.Key, store.KeyVersion) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	k := store.Key{ID: id, Account: "111122223333", Region: "eu-west-1", KeySpec: "SYMMETRIC_DEFAULT",
		KeyUsage: "ENCRYPT_DECRYPT", Origin: "AWS_KMS", State: "Enabled", CreatedAt: at, Policy: "{}",
		CurrentVersion: 1}
	v := store.KeyVersion{KeyID: id, Version: 1, MaterialID: fmt.Sprintf("%064x", 1),
		Wrapped: []byte("wrapped " + id), CreatedAt: at}
	return k, v
}

// nodes opens n stores on one new database.
func nodes(t *testing.T, n int) []*DB {
	t.Helper()
	url := emptyStore(t)
	dbs := make([]*DB, n)
	for i := range dbs {
		db, err := Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open node %d: %v", i, err)
		}
		dbs[i] = db
		t.Cleanup(func() { db.Close() })
	}
	return dbs
}

// together runs f(i) for each node at once and returns the errors.
func together(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() { <-start; errs[i] = f(i) })
	}
	close(start)
	wg.Wait()
	return errs
}

// TestOpenConcurrently opens an empty database from several nodes at once:
// the migration lock lets one apply each migration and the others find it
// applied (without it they fail on duplicate tables).
func TestOpenConcurrently(t *testing.T) {
	url := emptyStore(t)
	const n = 5
	dbs := make([]*DB, n)
	errs := together(n, func(i int) error {
		var err error
		dbs[i], err = Open(t.Context(), url)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Open: %v", i, err)
		}
		defer dbs[i].Close()
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var rows, newest int
	if err := dbs[0].sql.QueryRowContext(t.Context(), "SELECT count(*), max(version) FROM schema_migrations").Scan(&rows, &newest); err != nil {
		t.Fatal(err)
	}
	if rows != len(ms) || newest != len(ms) {
		t.Fatalf("schema_migrations: %d rows, newest %d; want %d and %d", rows, newest, len(ms), len(ms))
	}
}

// TestNodesCreateAliasRace: nodes creating the same alias at once — one
// wins, every other gets ErrExists, and the alias points at the winner's key.
func TestNodesCreateAliasRace(t *testing.T) {
	const n = 4
	dbs := nodes(t, n)
	ctx := t.Context()
	for i := range n {
		k, v := testKey(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		if err := dbs[0].CreateKey(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 10 {
		name := fmt.Sprintf("alias/race-%d", round)
		errs := together(n, func(i int) error {
			return dbs[i].CreateAlias(ctx, store.Alias{Account: "111122223333", Region: "eu-west-1",
				Name: name, KeyID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), CreatedAt: time.Now(), UpdatedAt: time.Now()})
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: nodes %d and %d both created %s", round, winner, i, name)
			case !errors.Is(err, store.ErrExists):
				t.Fatalf("round %d: node %d: %v, want ErrExists", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no node created %s", round, name)
		}
		a, err := dbs[(winner+1)%n].GetAlias(ctx, "111122223333", "eu-west-1", name)
		if err != nil || a.KeyID != fmt.Sprintf("00000000-0000-4000-8000-%012d", winner) {
			t.Fatalf("round %d: alias %+v, %v; want the key of node %d", round, a, err, winner)
		}
	}
}

// TestNodesRotateRace: nodes adding the next version of one key from the
// same revision — one wins, the others get ErrConflict, and the versions
// stay dense and unique.
func TestNodesRotateRace(t *testing.T) {
	const n = 4
	dbs := nodes(t, n)
	ctx := t.Context()
	k, v := testKey("00000000-0000-4000-8000-000000000001")
	if err := dbs[0].CreateKey(ctx, k, v); err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		read, err := dbs[0].GetKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		next := read.CurrentVersion + 1
		errs := together(n, func(i int) error {
			u := read
			u.CurrentVersion = next
			_, err := dbs[i].AddKeyVersion(ctx, u, store.KeyVersion{KeyID: k.ID, Version: next,
				MaterialID: fmt.Sprintf("%064x", next), Wrapped: []byte(fmt.Sprintf("node %d", i)), RotationType: "ON_DEMAND"})
			return err
		})
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: node %d: %v, want ErrConflict", round, i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, wins)
		}
	}
	vs, err := dbs[n-1].KeyVersions(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v.Version != uint32(i+1) {
			t.Fatalf("versions %v: not dense from 1", vs)
		}
	}
	if len(vs) != 11 {
		t.Fatalf("%d versions, want 11", len(vs))
	}
}

// TestShreddingLeavesOnlyWAL: after DeleteKey and DeleteKeyMaterial (and a
// CHECKPOINT, which writes every dirty page to the data files), the
// deleted wrapped material is in no file of the cluster's data directory
// but the write-ahead log — not in the table's heap, nor in its TOAST
// table (the 3000-byte case). Without the VACUUM after the commit the heap
// and TOAST files keep it. The WAL keeps it until its segment is recycled:
// PostgreSQL offers no way to scrub it (docs/postgres.md); the test logs
// what it finds there.
func TestShreddingLeavesOnlyWAL(t *testing.T) {
	c := pgtest.Require(t)
	db := nodes(t, 1)[0]
	ctx := t.Context()
	for i, size := range []int{60, 3000} {
		for _, material := range []bool{false, true} {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 10*i+boolIdx(material))
			k, v := testKey(id)
			gone, kept := randomBytes(t, size), randomBytes(t, size)
			v.Wrapped = gone
			if err := db.CreateKey(ctx, k, v); err != nil {
				t.Fatal(err)
			}
			k.Revision = 1
			if material {
				k.CurrentVersion = 2
				var err error
				if k, err = db.AddKeyVersion(ctx, k, store.KeyVersion{KeyID: id, Version: 2, MaterialID: "m", Wrapped: kept}); err != nil {
					t.Fatal(err)
				}
			}
			// The rows reach the data files before they are deleted.
			if _, err := db.pool.Exec(ctx, "CHECKPOINT"); err != nil {
				t.Fatal(err)
			}
			var err error
			if material {
				_, err = db.DeleteKeyMaterial(ctx, k, []uint32{1})
			} else {
				err = db.DeleteKey(ctx, id, 1)
			}
			if err != nil {
				t.Fatalf("size %d, material %v: delete: %v", size, material, err)
			}
			if _, err := db.pool.Exec(ctx, "CHECKPOINT"); err != nil {
				t.Fatal(err)
			}
			inData, inWAL := scan(t, c.DataDir(), gone[:32])
			if len(inData) > 0 {
				t.Errorf("size %d, material deleted %v: deleted material remains in %v", size, material, inData)
			}
			t.Logf("size %d, material deleted %v: in %d WAL segment(s), as documented", size, material, len(inWAL))
			if material {
				if found, _ := scan(t, c.DataDir(), kept[:32]); len(found) == 0 {
					t.Errorf("size %d: the kept version is not found either: the scan proves nothing", size)
				}
			}
		}
	}
}

func boolIdx(b bool) int {
	if b {
		return 1
	}
	return 0
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// scan returns the files under dir that contain needle, split into those
// of the write-ahead log and the others.
func scan(t *testing.T, dir string, needle []byte) (data, wal []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			if strings.Contains(p, string(filepath.Separator)+"pg_wal"+string(filepath.Separator)) {
				wal = append(wal, p)
			} else {
				data = append(data, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return data, wal
}

// TestObservable: Ping answers, and CountKeys counts keys by state and
// spec across accounts, as the metrics and /readyz read them.
func TestObservable(t *testing.T) {
	db := nodes(t, 1)[0]
	ctx := t.Context()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	for i, state := range []string{"Enabled", "Enabled", "Disabled"} {
		k, v := testKey(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		k.State = state
		if i == 1 {
			k.Account = "444455556666"
		}
		if err := db.CreateKey(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.CountKeys(ctx)
	if err != nil {
		t.Fatalf("CountKeys: %v", err)
	}
	want := map[string]int64{"Enabled": 2, "Disabled": 1}
	if len(got) != len(want) {
		t.Fatalf("CountKeys = %+v, want %v of SYMMETRIC_DEFAULT", got, want)
	}
	for _, c := range got {
		if c.Spec != "SYMMETRIC_DEFAULT" || c.Count != want[c.State] {
			t.Fatalf("CountKeys = %+v, want %v of SYMMETRIC_DEFAULT", got, want)
		}
	}
	db.Close()
	if err := db.Ping(ctx); err == nil {
		t.Fatal("Ping on a closed store succeeded")
	}
}

// TestOpenRefused: a database that is not there is an error at Open, soon,
// and the error does not repeat the URL's password.
func TestOpenRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = Open(t.Context(), "postgres://trent:hunter2-secret@"+addr+"/trent?sslmode=disable")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "hunter2-secret") {
		t.Fatalf("error repeats the password: %v", err)
	}
	if _, err := Open(t.Context(), "postgres://%zz"); err == nil || strings.Contains(err.Error(), "%zz") {
		t.Fatalf("Open of a malformed URL: %v", err)
	}
}
