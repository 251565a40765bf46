package kms

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/store"
)

const day = 24 * time.Hour

// setJobHook makes the lifecycle job call between(id) after it read key id
// and before it writes, and returns how many times it did.
func setJobHook(n *testNode, id string, between func()) *int {
	calls := new(int)
	n.beforeJobWrite = func(keyID string) {
		if keyID == id {
			*calls++
			between()
		}
	}
	return calls
}

// TestDeletionJobLosesToCancel commits a change between the deletion job's
// read of a due key and its delete: a cancelled deletion must win, the key
// must survive whole and stay usable. "another node" changes the store
// behind this node's cache, where only the store's revision check stands
// between the job and the key.
func TestDeletionJobLosesToCancel(t *testing.T) {
	tests := []struct {
		name      string
		between   func(t *testing.T, n, other *testNode, id string)
		wantState string // "" for deleted
	}{
		{"nothing", func(t *testing.T, n, other *testNode, id string) {}, ""},
		{"CancelKeyDeletion", func(t *testing.T, n, other *testNode, id string) {
			n.do(t, "CancelKeyDeletion", id)
		}, StateDisabled},
		{"CancelKeyDeletion and ScheduleKeyDeletion", func(t *testing.T, n, other *testNode, id string) {
			n.do(t, "CancelKeyDeletion", id)
			n.scheduleDeletion(t, id, 7)
		}, StatePendingDeletion},
		{"CancelKeyDeletion on another node", func(t *testing.T, n, other *testNode, id string) {
			other.do(t, "CancelKeyDeletion", id)
		}, StateDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			other := newNodeOn(t, n.db, n.root, n.clock)
			id := n.createKey(t)
			n.roundTrip(t, id)
			n.scheduleDeletion(t, id, 7)
			n.clock.Advance(7*day + time.Minute)
			calls := setJobHook(n, id, func() { tt.between(t, n, other, id) })

			n.runJobs(t)

			if *calls != 1 {
				t.Fatalf("the job reached the hook %d times, want 1", *calls)
			}
			md, err := n.describe(t, id)
			if tt.wantState == "" {
				wantCode(t, "DescribeKey after the job", err, apierr.NotFound)
				if _, err := n.db.GetKey(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("store GetKey after the job: %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DescribeKey after the job: %v (the key was deleted)", err)
			}
			if md.KeyState != tt.wantState {
				t.Errorf("state after the job = %s, want %s", md.KeyState, tt.wantState)
			}
			vs, err := n.db.KeyVersions(t.Context(), id)
			if err != nil || len(vs) != 1 {
				t.Fatalf("stored versions after the job: %d, %v; want 1", len(vs), err)
			}
			if tt.wantState == StatePendingDeletion {
				n.do(t, "CancelKeyDeletion", id)
			}
			n.do(t, "EnableKey", id)
			n.roundTrip(t, id)
		})
	}
}

// TestRotationJobRechecks commits a change between the rotation job's read
// of a due key and its write: a key disabled, its rotation disabled or
// rescheduled, or its deletion scheduled, must not be rotated.
func TestRotationJobRechecks(t *testing.T) {
	tests := []struct {
		name    string
		between func(t *testing.T, n, other *testNode, id string)
		rotated bool
	}{
		{"nothing", func(t *testing.T, n, other *testNode, id string) {}, true},
		{"DisableKey", func(t *testing.T, n, other *testNode, id string) {
			n.do(t, "DisableKey", id)
		}, false},
		{"DisableKeyRotation", func(t *testing.T, n, other *testNode, id string) {
			n.do(t, "DisableKeyRotation", id)
		}, false},
		{"EnableKeyRotation again, new period", func(t *testing.T, n, other *testNode, id string) {
			n.enableRotation(t, id, 180)
		}, false},
		{"ScheduleKeyDeletion", func(t *testing.T, n, other *testNode, id string) {
			n.scheduleDeletion(t, id, 30)
		}, false},
		{"DisableKeyRotation on another node", func(t *testing.T, n, other *testNode, id string) {
			other.do(t, "DisableKeyRotation", id)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			other := newNodeOn(t, n.db, n.root, n.clock)
			id := n.createKey(t)
			n.enableRotation(t, id, 90)
			n.clock.Advance(90*day + time.Minute)
			calls := setJobHook(n, id, func() { tt.between(t, n, other, id) })

			n.runJobs(t)

			if *calls != 1 {
				t.Fatalf("the job reached the hook %d times, want 1", *calls)
			}
			want := uint32(1)
			if tt.rotated {
				want = 2
			}
			k, err := n.db.GetKey(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := n.db.KeyVersions(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if k.CurrentVersion != want || len(vs) != int(want) {
				t.Errorf("after the job: current version %d, %d versions; want %d", k.CurrentVersion, len(vs), want)
			}
		})
	}
}

func (n *testNode) enableRotation(t *testing.T, id string, days int32) {
	t.Helper()
	in := &awsproto.EnableKeyRotationInput{KeyId: &id, RotationPeriodInDays: &days}
	if _, err := n.run(t.Context(), "EnableKeyRotation", in); err != nil {
		t.Fatalf("EnableKeyRotation(%s): %v", id, err)
	}
}

// TestDeletionJobNotPurged: a store that deleted the key but could not
// purge its remnants yet (store.ErrNotPurged) has still deleted it, so the
// job forgets the key (cache, material) instead of failing and serving it.
func TestDeletionJobNotPurged(t *testing.T) {
	base := newTestNode(t)
	spy := &spyStore{Store: base.db, deleteErr: fmt.Errorf("test: %w", store.ErrNotPurged)}
	n := newNodeOn(t, spy, base.root, base.clock)
	id := n.createKey(t)
	n.scheduleDeletion(t, id, 7)
	n.clock.Advance(7*day + time.Minute)

	n.runJobs(t)

	if _, err := spy.GetKey(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("store GetKey: %v, want ErrNotFound", err)
	}
	_, err := n.describe(t, id)
	wantCode(t, "DescribeKey after a deletion not yet purged", err, apierr.NotFound)
}
