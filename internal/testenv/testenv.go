// Package testenv starts real Trent servers for tests: a dev-mode
// installation in a temporary directory, served over HTTP on a loopback
// port, with an aws-sdk-go-v2 KMS client pointed at it. Lifecycle time is a
// fake clock that tests move forward; signatures are judged by the real
// clock, as the SDK signs with it. Only test code imports this package.
package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/clock"
	trentkms "github.com/trent-kms/trent/internal/kms"
)

// Env is a running Trent server and a client for it.
type Env struct {
	URL         string
	DataDir     string
	DatabaseURL string // the installation's PostgreSQL database; "" on SQLite (OnPostgres)
	Region      string
	Account     string
	AccessKeyID string
	Secret      string
	Clock       *clock.Fake
	App         *app.App
	KMS         *kms.Client
	server      *httptest.Server
}

// Option changes how Start builds the environment.
type Option func(*options)

type options struct {
	dataDir    string
	logger     *slog.Logger
	identities trentkms.Identities
	auditFS    audit.FileSystem
}

// WithLogger gives the server this logger instead of slog.Default, so a
// test can read what the server logs.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithIdentities gives the server's KMS service this answer to "what are
// the caller's identity-based policies, does this principal exist", for
// tests of authorization.
func WithIdentities(ids trentkms.Identities) Option { return func(o *options) { o.identities = ids } }

// WithAuditFS gives the audit log this file layer instead of the real
// disk, so a test can make its writes fail.
func WithAuditFS(fs audit.FileSystem) Option { return func(o *options) { o.auditFS = fs } }

// WithDataDir serves an existing (or new) data directory instead of a
// fresh temporary one. An existing directory is made 0700, as Trent
// refuses to serve one that group or others can reach (t.TempDir's
// directories follow the umask).
func WithDataDir(dir string) Option { return func(o *options) { o.dataDir = dir } }

// Start starts a dev-mode server; it stops when the test ends.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	if err := os.Chmod(o.dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("data dir: %v", err)
	}
	fake := clock.NewFake(time.Now())
	cfg := app.Config{DataDir: o.dataDir, Dev: true, Clock: fake, Logger: o.logger, Identities: o.identities, AuditFS: o.auditFS}
	if OnPostgres() {
		onDatabase(t, &cfg)
	}
	a, err := app.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open trent: %v", err)
	}
	id, secret, err := a.Directory.CreateAccessKey(context.Background(), a.Account)
	if err != nil {
		t.Fatalf("create access key: %v", err)
	}
	srv := httptest.NewServer(a.Handler)
	e := &Env{
		URL: srv.URL, DataDir: o.dataDir, DatabaseURL: cfg.DatabaseURL, Region: a.Region, Account: a.Account,
		AccessKeyID: id, Secret: secret, Clock: fake, App: a, server: srv,
	}
	e.KMS = e.Client(id, secret)
	t.Cleanup(e.Close)
	return e
}

// Close stops the server and closes the store. Safe to call twice.
func (e *Env) Close() {
	if e.server != nil {
		e.server.Close()
		e.server = nil
	}
	if e.App != nil {
		e.App.Close()
		e.App = nil
	}
}

// Client returns an aws-sdk-go-v2 KMS client for the server with the given
// credentials. It does not retry, so a test sees every error as sent
// (Config).
func (e *Env) Client(accessKeyID, secret string) *kms.Client {
	return kms.NewFromConfig(Config(e.URL, e.Region, accessKeyID, secret, ""))
}

// NewAccount makes another account on the server, as `trent account
// create` does, and returns its id and its root access key.
func (e *Env) NewAccount(t testing.TB) (account, accessKeyID, secret string) {
	t.Helper()
	account, accessKeyID, secret, err := e.App.IAM.CreateAccount(context.Background(), "")
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	return account, accessKeyID, secret
}

// RunJobs runs the lifecycle jobs (deletions, rotations) at the fake
// clock's current time.
func (e *Env) RunJobs(t testing.TB) {
	t.Helper()
	if err := e.App.KMS.RunDue(context.Background()); err != nil {
		t.Fatalf("run lifecycle jobs: %v", err)
	}
}

// Post sends a raw JSON 1.1 request for the operation, signed with the
// environment's credentials (unsigned if sign is false), and returns the
// status, headers and body. It is for tests of the wire format itself.
func (e *Env) Post(t testing.TB, op string, body []byte, sign bool) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if op != "" {
		req.Header.Set("X-Amz-Target", "TrentService."+op)
	}
	if sign {
		e.Sign(t, req, body, time.Now())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", op, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// Sign signs req (whose body is body) with the environment's credentials
// using aws-sdk-go-v2's SigV4 signer, at the given time.
func (e *Env) Sign(t testing.TB, req *http.Request, body []byte, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kms", e.Region, at); err != nil {
		t.Fatalf("sign: %v", err)
	}
}
