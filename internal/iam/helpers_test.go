package iam

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

const testAccount = "111122223333"

// fixture is a Service over a real SQLite store in a temporary directory,
// with a real root key and a fake clock, and the root caller of
// testAccount.
type fixture struct {
	t     testing.TB
	s     *Service
	db    *sqlite.DB
	root  *seal.RootKey
	clock *clock.Fake
	// rootCaller is the account root, resolved from its access key.
	rootCaller *identity.Caller
	rootKeyID  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, root := newStore(t)
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s, err := New(context.Background(), Config{Store: db, Root: root, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, s: s, db: db, root: root, clock: clk}
	_, id, _, err := s.CreateAccount(context.Background(), testAccount)
	if err != nil {
		t.Fatal(err)
	}
	f.rootKeyID = id
	f.rootCaller = f.resolve(id, "")
	return f
}

// newStore opens a real SQLite store in a temporary directory and makes a
// root key.
func newStore(t testing.TB) (*sqlite.DB, *seal.RootKey) {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := seal.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	root, err := seal.NewRootKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return db, root
}

// resolve resolves a key that must resolve.
func (f *fixture) resolve(id, token string) *identity.Caller {
	f.t.Helper()
	_, c, err := f.s.Resolve(context.Background(), id, token)
	if err != nil {
		f.t.Fatalf("Resolve(%s): %v", id, err)
	}
	return c
}

// call runs an operation as the wire would: the form body is decoded by
// awsquery, as the server decodes it, and handed to the Service.
func (f *fixture) call(svc *awsquery.Service, caller *identity.Caller, action, params string) (any, error) {
	f.t.Helper()
	op, in, r, err := decodeCall(svc, caller, action, params)
	if err != nil {
		return nil, err
	}
	if svc == awsquery.IAM {
		return f.s.CallIAM(context.Background(), r, op, in)
	}
	return f.s.CallSTS(context.Background(), r, op, in)
}

// decodeCall decodes the form body of action with params as the server
// does, and makes the Request caller sends it in.
func decodeCall(svc *awsquery.Service, caller *identity.Caller, action, params string) (*awsquery.Operation, any, *Request, error) {
	body := "Action=" + action + "&Version=" + svc.Version
	if params != "" {
		body += "&" + params
	}
	op, in, err := svc.Decode([]byte(body))
	r := &Request{Caller: caller, RequestID: "test", SourceIP: "192.0.2.1", Region: "us-east-1"}
	return op, in, r, err
}

// iam runs an IAM operation that must succeed; iamErr one that must fail,
// and returns its error. sts and stsErr are the same for STS.
func (f *fixture) iam(caller *identity.Caller, action, params string) any {
	f.t.Helper()
	return f.mustSucceed(awsquery.IAM, caller, action, params)
}

func (f *fixture) iamErr(caller *identity.Caller, action, params string) *apierr.Error {
	f.t.Helper()
	return f.mustFail(awsquery.IAM, caller, action, params)
}

func (f *fixture) sts(caller *identity.Caller, action, params string) any {
	f.t.Helper()
	return f.mustSucceed(awsquery.STS, caller, action, params)
}

func (f *fixture) stsErr(caller *identity.Caller, action, params string) *apierr.Error {
	f.t.Helper()
	return f.mustFail(awsquery.STS, caller, action, params)
}

func (f *fixture) mustSucceed(svc *awsquery.Service, caller *identity.Caller, action, params string) any {
	f.t.Helper()
	out, err := f.call(svc, caller, action, params)
	if err != nil {
		f.t.Fatalf("%s %s: %v", action, params, err)
	}
	return out
}

func (f *fixture) mustFail(svc *awsquery.Service, caller *identity.Caller, action, params string) *apierr.Error {
	f.t.Helper()
	_, err := f.call(svc, caller, action, params)
	if err == nil {
		f.t.Fatalf("%s %s: succeeded, want an error", action, params)
	}
	var e *apierr.Error
	if !errors.As(err, &e) {
		f.t.Fatalf("%s %s: %v is not an *apierr.Error", action, params, err)
	}
	return e
}

// userWithKey creates a user and an access key and returns the user as a
// resolved caller.
func (f *fixture) userWithKey(name string) (*identity.Caller, string) {
	f.t.Helper()
	f.iam(f.rootCaller, "CreateUser", "UserName="+name)
	out := f.iam(f.rootCaller, "CreateAccessKey", "UserName="+name).(*awsquery.CreateAccessKeyOutput)
	return f.resolve(out.AccessKey.AccessKeyId, ""), out.AccessKey.AccessKeyId
}

// q encodes a query parameter value.
func q(s string) string { return url.QueryEscape(s) }

// wantErr checks an error's code and message.
func wantErr(t *testing.T, e *apierr.Error, code, message string) {
	t.Helper()
	if e.Code != code || e.Message != message {
		t.Fatalf("got %s %q\nwant %s %q", e.Code, e.Message, code, message)
	}
}

// wantErrPrefix checks an error's code and the start of its message.
func wantErrPrefix(t *testing.T, e *apierr.Error, code, prefix string) {
	t.Helper()
	if e.Code != code || !strings.HasPrefix(e.Message, prefix) {
		t.Fatalf("got %s %q\nwant %s %q…", e.Code, e.Message, code, prefix)
	}
}

const allowAllKMS = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
