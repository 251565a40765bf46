package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// leaseName makes the test's lease names its own: the tests' schemas
// share one database, and advisory locks are the database's.
func leaseName(t *testing.T, what string) string { return t.Name() + "/" + what }

func mustTry(t *testing.T, l store.Lease, want bool, who string) {
	t.Helper()
	got, err := l.Try(t.Context())
	if err != nil || got != want {
		t.Fatalf("%s: Try = %v, %v; want %v, nil", who, got, err, want)
	}
}

// TestLeaseOneHolder: of two nodes (two pools) only one holds a lease; a
// holder's Try keeps it without stacking locks; a second handle in the
// same process is another holder too; another name is another lease; a
// release hands it over.
func TestLeaseOneHolder(t *testing.T) {
	if leaseID(store.LeaseJobs) == leaseID(store.LeaseRotateRoot) {
		t.Fatal("the job and rotation leases share one lock")
	}
	dbs := nodes(t, 2)
	name := leaseName(t, "jobs")
	a, b := dbs[0].NewLease(name, "a"), dbs[1].NewLease(name, "b")
	defer a.Release()
	defer b.Release()
	mustTry(t, a, true, "first node")
	mustTry(t, b, false, "second node")
	mustTry(t, a, true, "holder again")
	mustTry(t, a, true, "holder a third time")
	a2 := dbs[0].NewLease(name, "a2")
	defer a2.Release()
	mustTry(t, a2, false, "second handle on the holder's node")
	other := dbs[1].NewLease(leaseName(t, "other"), "b")
	defer other.Release()
	mustTry(t, other, true, "another lease name")

	// One release frees it, though Try ran three times: no stacked holds.
	if err := a.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	mustTry(t, b, true, "second node after the release")
	mustTry(t, a, false, "first node after it released")
}

// TestLeaseTakeover ends the holder's session from the server, as the
// server does when keepalives find the holder's machine gone: another node
// takes the lease, and the old holder learns at its next Try that it lost
// it.
func TestLeaseTakeover(t *testing.T) {
	dbs := nodes(t, 2)
	name := leaseName(t, "jobs")
	a, b := dbs[0].NewLease(name, "a"), dbs[1].NewLease(name, "b")
	defer a.Release()
	defer b.Release()
	mustTry(t, a, true, "first node")
	mustTry(t, b, false, "second node")

	// The session of a is found as operators would find a lease's holder.
	var pid int
	var app string
	err := dbs[1].pool.QueryRow(t.Context(), `SELECT a.pid, a.application_name FROM pg_locks l
		JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid`,
		int64(leaseClass), int64(leaseID(name))).Scan(&pid, &app)
	if err != nil {
		t.Fatalf("find the holder: %v", err)
	}
	if app != "trent lease "+name+" a" {
		t.Errorf("holder's application_name = %q", app)
	}
	var ok bool
	if err := dbs[1].pool.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend: %v, %v", ok, err)
	}
	// The backend exits after the signal; the lock is free once it has
	// (up to 30 s: a loaded machine is slow to schedule the exit).
	took := false
	for range 3000 {
		if took, err = b.Try(t.Context()); err != nil {
			t.Fatalf("second node: Try: %v", err)
		}
		if took {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !took {
		t.Fatal("the second node never took the lease of a terminated session")
	}
	if held, err := a.Try(t.Context()); held || err == nil {
		t.Errorf("old holder's Try after its session ended = %v, %v; want false and an error", held, err)
	}
	// Its next Try starts a new session and finds the lease taken.
	mustTry(t, a, false, "old holder on a new session")
}

// TestLeaseKeepalives: a lease's session carries the keepalive settings
// that bound how long the server keeps the lock of a holder gone silent.
func TestLeaseKeepalives(t *testing.T) {
	db := nodes(t, 1)[0]
	l := db.NewLease(leaseName(t, "jobs"), "")
	defer l.Release()
	mustTry(t, l, true, "only node")
	conn := l.(*lease).conn
	for k, want := range leaseKeepalives {
		var got string
		if err := conn.QueryRow(context.Background(), "SELECT setting FROM pg_settings WHERE name = $1", k).Scan(&got); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if got != want {
			t.Errorf("%s = %q on the lease's session, want %q", k, got, want)
		}
	}
}

// TestLeaseContenders: a node sees the other nodes' handles on a lease,
// held or not, and not its own, until they are released.
func TestLeaseContenders(t *testing.T) {
	dbs := nodes(t, 3)
	name := leaseName(t, "jobs")
	ls := make([]store.Lease, 3)
	for i, db := range dbs {
		ls[i] = db.NewLease(name, fmt.Sprintf("node %d", i))
		defer ls[i].Release()
		if _, err := ls[i].Try(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	other := dbs[1].NewLease(leaseName(t, "other"), "node 1")
	defer other.Release()
	mustTry(t, other, true, "another lease")
	check := func(i int, want ...string) {
		t.Helper()
		got, err := dbs[i].Contenders(t.Context(), name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("node %d: Contenders = %q, %v; want %q", i, got, err, want)
		}
	}
	check(0, "node 1", "node 2")
	check(2, "node 0", "node 1")
	if err := ls[1].Release(); err != nil {
		t.Fatal(err)
	}
	// The server ends a closed session soon after, not at once (waited
	// for up to 30 s; check says what is left if it never ends).
	for range 3000 {
		if got, err := dbs[0].Contenders(t.Context(), name); err == nil && len(got) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	check(0, "node 2")
}
