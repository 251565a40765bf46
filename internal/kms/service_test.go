package kms

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// The tests in this package drive a Service directly, on a real SQLite
// store in a temporary directory, where they need what the HTTP tests in
// internal/e2e cannot reach: the lifecycle job's test hook, the write lock,
// a second Service on the same store standing for another node.

const (
	testAccount = "111122223333"
	testRegion  = "eu-west-1"
)

// testNode is a Service with the store, root key and fake clock under it.
type testNode struct {
	*Service
	db    store.Store
	root  *seal.RootKey
	clock *clock.Fake
}

// newTestNode opens a fresh store and a Service on it.
func newTestNode(t testing.TB) *testNode {
	t.Helper()
	db, root := newTestStore(t)
	return newNodeOn(t, db, root, clock.NewFake(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)))
}

// newTestStore opens a fresh SQLite store in a temporary directory and
// makes a root key for it.
func newTestStore(t testing.TB) (*sqlite.DB, *seal.RootKey) {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, newTestRoot(t)
}

// newTestRoot makes a root key.
func newTestRoot(t testing.TB) *seal.RootKey {
	t.Helper()
	raw, err := seal.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	root, err := seal.NewRootKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// newNodeOn returns a Service on an existing store: another node of the
// same installation when db and root are another node's.
func newNodeOn(t testing.TB, db store.Store, root *seal.RootKey, c *clock.Fake) *testNode {
	t.Helper()
	s, err := New(Config{Store: db, Root: root, Clock: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{Service: s, db: db, root: root, clock: c}
}

func (n *testNode) createKey(t *testing.T) string {
	t.Helper()
	out, err := n.run(t.Context(), "CreateKey", &awsproto.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.(*awsproto.KeyMetadataOutput).KeyMetadata.KeyId
}

// rootOf is the request of the root user of account in region.
func rootOf(account, region string) *Request {
	return &Request{
		Caller: &identity.Caller{Principal: policy.Principal{
			ARN: "arn:aws:iam::" + account + ":root", Account: account, Type: policy.PrincipalRoot, UserID: account,
		}},
		Region: region, SourceIP: "192.0.2.1", SecureTransport: true,
	}
}

// as runs operation name on in for request r, through its row (check,
// authorize, handle) as the server would.
func (s *Service) as(ctx context.Context, r *Request, name string, in any) (any, error) {
	op, ok := Lookup(name)
	if !ok || op.invoke == nil {
		panic("no operation " + name)
	}
	return op.invoke(ctx, s, r, in)
}

// run runs operation name on in as the test account's root user in the
// test region.
func (s *Service) run(ctx context.Context, name string, in any) (any, error) {
	return s.as(ctx, rootOf(testAccount, testRegion), name, in)
}

// do runs a key-id-only operation and fails the test on an error.
func (n *testNode) do(t *testing.T, name string, id string) {
	t.Helper()
	if _, err := n.run(t.Context(), name, &awsproto.KeyIdInput{KeyId: &id}); err != nil {
		t.Fatalf("%s(%s): %v", name, id, err)
	}
}

func (n *testNode) scheduleDeletion(t *testing.T, id string, days int32) {
	t.Helper()
	in := &awsproto.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: &days}
	if _, err := n.run(t.Context(), "ScheduleKeyDeletion", in); err != nil {
		t.Fatalf("ScheduleKeyDeletion(%s): %v", id, err)
	}
}

func (n *testNode) describe(t *testing.T, id string) (*awsproto.KeyMetadata, error) {
	t.Helper()
	out, err := n.run(t.Context(), "DescribeKey", &awsproto.DescribeKeyInput{KeyId: &id})
	if err != nil {
		return nil, err
	}
	return out.(*awsproto.KeyMetadataOutput).KeyMetadata, nil
}

// roundTrip encrypts and decrypts with the key and fails the test unless
// the plaintext comes back.
func (n *testNode) roundTrip(t *testing.T, id string) {
	t.Helper()
	pt := []byte("still usable") // Encrypt wipes its input: it gets a copy
	enc, err := n.run(t.Context(), "Encrypt", &awsproto.EncryptInput{KeyId: &id, Plaintext: bytes.Clone(pt)})
	if err != nil {
		t.Fatalf("Encrypt(%s): %v", id, err)
	}
	blob := enc.(*awsproto.EncryptOutput).CiphertextBlob
	dec, err := n.run(t.Context(), "Decrypt", &awsproto.DecryptInput{CiphertextBlob: blob})
	if err != nil {
		t.Fatalf("Decrypt with %s: %v", id, err)
	}
	if got := dec.(*awsproto.DecryptOutput).Plaintext; !bytes.Equal(got, pt) {
		t.Fatalf("Decrypt with %s = %q, want %q", id, got, pt)
	}
}

func (n *testNode) runJobs(t *testing.T) {
	t.Helper()
	if err := n.RunDue(t.Context()); err != nil {
		t.Fatalf("RunDue: %v", err)
	}
}

// wantCode fails the test unless err is an *apierr.Error with the code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if !apierr.Is(err, code) {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// spyStore is a real store that counts key reads, can run a hook after a
// read (before its result is returned: the gap where a concurrent write
// makes the result stale), and, where deleteErr is set, reports it after
// a DeleteKey that succeeded.
type spyStore struct {
	store.Store
	getKey    atomic.Int64
	afterRead func(op, name string) // op is "GetKey" or "GetAlias"
	deleteErr error
}

func (s *spyStore) GetKey(ctx context.Context, id string) (store.Key, error) {
	s.getKey.Add(1)
	k, err := s.Store.GetKey(ctx, id)
	if s.afterRead != nil {
		s.afterRead("GetKey", id)
	}
	return k, err
}

func (s *spyStore) GetAlias(ctx context.Context, account, region, name string) (store.Alias, error) {
	a, err := s.Store.GetAlias(ctx, account, region, name)
	if s.afterRead != nil {
		s.afterRead("GetAlias", name)
	}
	return a, err
}

func (s *spyStore) DeleteKey(ctx context.Context, id string, revision int64) error {
	if err := s.Store.DeleteKey(ctx, id, revision); err != nil {
		return err
	}
	return s.deleteErr
}
