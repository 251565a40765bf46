package kms

import (
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
)

// TestForget: two Services on one store, as two nodes. A change made
// through a is not seen by b, which serves from its caches, until b is
// told to forget what changed (internal/app/cluster.go does that on the
// store's change feed) — then b reads the store again. Each row first
// shows b answering by the old state, so the forget call is what makes the
// difference.
func TestForget(t *testing.T) {
	code := func(err error) string {
		if err == nil {
			return ""
		}
		return apierr.As(err).Code
	}
	for _, tc := range []struct {
		name   string
		forget func(b *testNode, id, other string)
	}{
		{"ForgetKey", func(b *testNode, id, _ string) { b.ForgetKey(id) }},
		{"ForgetAll", func(b *testNode, _, _ string) { b.ForgetAll() }},
	} {
		t.Run(tc.name+"/disabled", func(t *testing.T) {
			a := newTestNode(t)
			b := newNodeOn(t, a.db, a.root, a.clock)
			id := a.createKey(t)
			b.roundTrip(t, id)
			a.do(t, "DisableKey", id)
			b.roundTrip(t, id) // cached: still enabled here
			tc.forget(b, id, "")
			if _, err := b.run(t.Context(), "Encrypt", &awsproto.EncryptInput{KeyId: &id, Plaintext: []byte("p")}); code(err) != "DisabledException" {
				t.Fatalf("Encrypt after %s: %v, want DisabledException", tc.name, err)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		forget func(b *testNode, alias, from, to string)
	}{
		{"ForgetAlias", func(b *testNode, alias, from, to string) {
			b.ForgetAlias(testAccount, testRegion, alias)
			b.ForgetKeyAliases(from)
			b.ForgetKeyAliases(to)
		}},
		{"ForgetAll", func(b *testNode, _, _, _ string) { b.ForgetAll() }},
	} {
		t.Run(tc.name+"/alias moved", func(t *testing.T) {
			a := newTestNode(t)
			b := newNodeOn(t, a.db, a.root, a.clock)
			from, to := a.createKey(t), a.createKey(t)
			alias := "alias/moving"
			if _, err := a.run(t.Context(), "CreateAlias", &awsproto.AliasInput{AliasName: &alias, TargetKeyId: &from}); err != nil {
				t.Fatal(err)
			}
			target := func() string {
				t.Helper()
				md, err := b.describe(t, alias)
				if err != nil {
					t.Fatal(err)
				}
				return md.KeyId
			}
			if got := target(); got != from {
				t.Fatalf("alias → %s, want %s", got, from)
			}
			if _, err := a.run(t.Context(), "UpdateAlias", &awsproto.AliasInput{AliasName: &alias, TargetKeyId: &to}); err != nil {
				t.Fatal(err)
			}
			if got := target(); got != from {
				t.Fatalf("alias → %s before forgetting, want the cached %s", got, from)
			}
			tc.forget(b, alias, from, to)
			if got := target(); got != to {
				t.Fatalf("alias → %s after %s, want %s", got, tc.name, to)
			}
		})
	}
}
