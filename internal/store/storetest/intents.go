package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// IntentsStore is a store with the audit outbox.
type IntentsStore interface {
	store.Store
	store.SettingCreator
	store.AuditIntents
}

// RunAuditIntents runs the conformance suite of the audit outbox
// (store.AuditIntent): a write run under a context carrying an intent
// commits the intent iff it commits its change — through the group or
// serializable write of one key, the shared write transactions and the
// one-statement writes — a failed write leaves none, a request that writes
// twice has one row, and a write without an intent writes none.
func RunAuditIntents(t *testing.T, open func(t *testing.T) IntentsStore) {
	s := open(t)
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	intent := func(id string) (*store.AuditIntent, context.Context) {
		in := &store.AuditIntent{EventID: id, EventTime: at, Body: func() []byte { return []byte(`{"eventName":"` + id + `"}`) }}
		return in, store.WithAuditIntent(ctx, in)
	}
	stored := func() map[string]store.StoredIntent {
		t.Helper()
		ins, err := s.AuditIntents(ctx, "")
		if err != nil {
			t.Fatalf("AuditIntents: %v", err)
		}
		m := map[string]store.StoredIntent{}
		for _, in := range ins {
			m[in.EventID] = in
		}
		return m
	}

	k := newKey(keyID(1), account, region)
	inKey, ctxKey := intent("create-key")
	if err := s.CreateKey(ctxKey, k, newVersion(k.ID, 1)); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if !inKey.Written {
		t.Error("CreateKey did not mark its intent written")
	}
	got, ok := stored()["create-key"]
	if !ok {
		t.Fatal("CreateKey committed without its intent")
	}
	wantKeys := []string{"arn:aws:kms:" + region + ":" + account + ":key/" + k.ID}
	if string(got.Body) != `{"eventName":"create-key"}` || !got.EventTime.Equal(at) || !slices.Equal(got.Keys, wantKeys) {
		t.Errorf("stored intent = %+v %s, want the body, time and created key %v", got, got.Body, wantKeys)
	}

	// A failed write — here the key exists already — leaves no intent.
	_, ctxDup := intent("create-key-again")
	wantErr(t, "CreateKey(same id)", s.CreateKey(ctxDup, k, newVersion(k.ID, 1)), store.ErrExists)
	_, ctxSet := intent("put-setting")
	if err := s.PutSetting(ctxSet, "intent-test", []byte("v")); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}
	_, ctxSetDup := intent("create-setting-again")
	wantErr(t, "CreateSetting(existing)", s.CreateSetting(ctxSetDup, "intent-test", []byte("w")), store.ErrExists)
	_, ctxAliasBad := intent("alias-to-nothing")
	if err := s.CreateAlias(ctxAliasBad, store.Alias{Account: account, Region: region, Name: "alias/none", KeyID: keyID(99), CreatedAt: at, UpdatedAt: at}); err == nil {
		t.Fatal("CreateAlias to a missing key succeeded")
	}

	// Two writes of one request: one row, with what the later one knew.
	inTwo, ctxTwo := intent("two-writes")
	if err := s.CreateAlias(ctxTwo, store.Alias{Account: account, Region: region, Name: "alias/one", KeyID: k.ID, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	inTwo.Body = func() []byte { return []byte(`{"second":true}`) }
	if err := s.CreateAlias(ctxTwo, store.Alias{Account: account, Region: region, Name: "alias/two", KeyID: k.ID, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}

	// Writes without an intent write none; another node's are its own.
	if err := s.PutSetting(ctx, "intent-test-2", []byte("v")); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}
	other := &store.AuditIntent{Node: "n2", EventID: "other-node", EventTime: at}
	if err := s.PutSetting(store.WithAuditIntent(ctx, other), "intent-test-3", []byte("v")); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}

	m := stored()
	var ids []string
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if want := []string{"create-key", "put-setting", "two-writes"}; !slices.Equal(ids, want) {
		t.Fatalf("intents of node \"\" = %v, want %v", ids, want)
	}
	if string(m["two-writes"].Body) != `{"second":true}` {
		t.Errorf("intent of two writes = %s, want the later write's", m["two-writes"].Body)
	}
	if ins, err := s.AuditIntents(ctx, "n2"); err != nil || len(ins) != 1 || ins[0].EventID != "other-node" {
		t.Errorf("intents of node n2 = %+v, %v; want other-node", ins, err)
	}

	del := []store.AuditIntentID{{EventTime: at, EventID: "never-written"}}
	for _, id := range ids {
		del = append(del, store.AuditIntentID{EventTime: m[id].EventTime, EventID: id})
	}
	if err := s.DeleteAuditIntents(ctx, del); err != nil {
		t.Fatalf("DeleteAuditIntents: %v", err)
	}
	if m := stored(); len(m) != 0 {
		t.Errorf("intents after deleting them: %v", m)
	}
}
