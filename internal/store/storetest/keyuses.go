package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// KeyUsesStore is a store with the key use table.
type KeyUsesStore interface {
	store.Store
	store.KeyUses
}

// RunKeyUses runs the conformance suite of store.KeyUses; open is as for
// Run.
func RunKeyUses(t *testing.T, open func(t *testing.T) KeyUsesStore) {
	s := open(t)
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	const arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	if _, ok, err := s.LastKeyUse(ctx, arn); ok || err != nil {
		t.Fatalf("LastKeyUse before any use: %v, %v", ok, err)
	}
	if m, err := s.KeyUseMark(ctx, "n1"); err != nil || m != (store.KeyUseMark{}) {
		t.Fatalf("KeyUseMark before any: %+v, %v", m, err)
	}
	use := func(sec int, node string, seq uint64, op string) store.KeyUse {
		return store.KeyUse{KeyARN: arn, Operation: op, Time: at.Add(time.Duration(sec) * time.Second),
			EventID: "ev-" + op, RequestID: "req-" + op, Node: node, Seq: seq}
	}
	start := at.Add(-time.Hour + 123*time.Nanosecond)
	for _, step := range []struct {
		name string
		put  store.KeyUse
		want store.KeyUse
	}{
		{"first use", use(10, "n1", 5, "Encrypt"), use(10, "n1", 5, "Encrypt")},
		{"an earlier time, a later seq: kept out", use(9, "n1", 6, "Decrypt"), use(10, "n1", 5, "Encrypt")},
		{"a later time, an earlier seq: replaces", use(11, "n1", 4, "Sign"), use(11, "n1", 4, "Sign")},
		{"same second, later seq: replaces", use(11, "n1", 7, "Verify"), use(11, "n1", 7, "Verify")},
		{"same second, a later node: replaces", use(11, "n2", 1, "GenerateMac"), use(11, "n2", 1, "GenerateMac")},
		{"same second, an earlier node: kept out", use(11, "n1", 9, "VerifyMac"), use(11, "n2", 1, "GenerateMac")},
	} {
		mark := store.KeyUseMark{Seq: step.put.Seq, TrackingStart: start, Hash: sha256.Sum256([]byte(step.name))}
		if err := s.PutKeyUses(ctx, step.put.Node, []store.KeyUse{step.put}, mark); err != nil {
			t.Fatalf("%s: PutKeyUses: %v", step.name, err)
		}
		got, ok, err := s.LastKeyUse(ctx, arn)
		if err != nil || !ok || !got.Time.Equal(step.want.Time) || !sameButTime(got, step.want) {
			t.Errorf("%s: LastKeyUse = %+v, %v, %v; want %+v", step.name, got, ok, err, step.want)
		}
		if m, err := s.KeyUseMark(ctx, step.put.Node); err != nil || m.Seq != mark.Seq || !m.TrackingStart.Equal(start) || m.Hash != mark.Hash {
			t.Errorf("%s: KeyUseMark(%s) = %+v, %v; want %+v", step.name, step.put.Node, m, err, mark)
		}
	}
	// A mark alone, without uses, a tracking start yet or a hash; each
	// node has its own.
	if err := s.PutKeyUses(ctx, "n3", nil, store.KeyUseMark{Seq: 42}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.KeyUseMark(ctx, "n3"); err != nil || m.Seq != 42 || !m.TrackingStart.IsZero() || m.Hash != ([32]byte{}) {
		t.Errorf("KeyUseMark(n3) = %+v, %v; want seq 42 and no tracking start nor hash", m, err)
	}
	if m, err := s.KeyUseMark(ctx, "n1"); err != nil || m.Seq != 9 {
		t.Errorf("KeyUseMark(n1) = %+v, %v after n3's; want seq 9", m, err)
	}
	runManyKeyUses(t, s, at)
}

// runManyKeyUses stores the uses of 150 keys in one call, as a flush of
// a hot set does (a store may write them several rows to a statement),
// one of them earlier than the key's stored use: that one is kept out,
// the others stored.
func runManyKeyUses(t *testing.T, s KeyUsesStore, at time.Time) {
	ctx := context.Background()
	arn := func(i int) string {
		return fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-12ab-34cd-56ef-1234567890ab", i)
	}
	use := func(i, sec int, seq uint64) store.KeyUse {
		return store.KeyUse{KeyARN: arn(i), Operation: "Encrypt", Time: at.Add(time.Duration(sec) * time.Second),
			EventID: fmt.Sprintf("ev-%d", seq), RequestID: fmt.Sprintf("req-%d", seq), Node: "n4", Seq: seq}
	}
	stored := use(70, 500, 900)
	if err := s.PutKeyUses(ctx, "n4", []store.KeyUse{stored}, store.KeyUseMark{Seq: 900}); err != nil {
		t.Fatal(err)
	}
	const keys = 150
	var uses []store.KeyUse
	want := map[string]store.KeyUse{stored.KeyARN: stored}
	for i := range keys {
		u := use(i, 100+i, uint64(1000+i))
		uses = append(uses, u)
		if i != 70 {
			want[u.KeyARN] = u
		}
	}
	if err := s.PutKeyUses(ctx, "n4", uses, store.KeyUseMark{Seq: 1000 + keys - 1}); err != nil {
		t.Fatalf("PutKeyUses of %d uses: %v", len(uses), err)
	}
	for i := range keys {
		got, ok, err := s.LastKeyUse(ctx, arn(i))
		w := want[arn(i)]
		if err != nil || !ok || !got.Time.Equal(w.Time) || !sameButTime(got, w) {
			t.Errorf("LastKeyUse(key %d) = %+v, %v, %v; want %+v", i, got, ok, err, w)
		}
	}
}

// sameButTime compares two uses but for their times, which time.Time's ==
// does not compare by instant.
func sameButTime(a, b store.KeyUse) bool {
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b
}
