package app

import (
	"context"
	"crypto/fips140"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// A Node is a running installation, sealed or unsealed. The store stays
// open for the node's life: it holds nothing unwrapped. Everything that
// needs the root key — root key, services, caches, verifier, API handler,
// lifecycle jobs — is an App, built when the node unseals and torn down
// when it seals; the node swaps it in and out atomically, so a request
// sees one App or none from start to end.
//
//	Start ─┬─ seal opens itself (key file, HSM) ──▶ unsealed
//	       └─ seal needs operators (shamir) ─────▶ sealed
//	sealed ──SubmitShare × threshold──▶ unsealed ──Seal──▶ sealed
//
// Every transition runs under one mutex; none is ever half done: the App
// is published only once complete, and a failure on the way drops the
// root key and whatever was built.
type Node struct {
	// What the installation records about itself, readable sealed.
	DataDir, Mode, Account, Region, SealType string

	cfg    Config
	log    *slog.Logger
	st     store.Store
	method unsealMethod
	lock   *dirLock // the shared lock on the data dir (lockDirShared)
	// presence releases this node's own lease, on PostgreSQL (presence.go).
	presence func()

	mu     sync.Mutex // orders unseal, seal, reset and close
	closed bool
	cur    atomic.Pointer[App] // nil while sealed

	rotateMu sync.Mutex // one root-key rotation at a time (rotate.go)

	// Scheduled backups of the store (backupschedule.go), on SQLite.
	stopBackups func()
	backupsOn   atomic.Bool
	backupStats taskStats

	// qmu guards sealed and orders publishing an App after taking it
	// (sysaudit.go).
	qmu    sync.Mutex
	sealed sealedQueue // events of requests answered while sealed
}

var _ server.Backend = (*Node)(nil)

// Start opens the installation in cfg.DataDir — creating it first in dev
// mode — and unseals it if its seal opens itself. A shamir installation
// starts sealed: serve n.Handler() and let operators unseal it.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.DatabaseURL != "" {
		return startOnDatabase(ctx, cfg)
	}
	dbPath := filepath.Join(cfg.DataDir, dbFile)
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		if !cfg.Dev {
			return nil, fmt.Errorf("%s holds no Trent installation: run `trent init --data-dir %s` first, or use --dev", cfg.DataDir, cfg.DataDir)
		}
		if err := createDev(ctx, &cfg); err != nil {
			return nil, err
		}
	}
	if err := CheckDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	// init commits the store by a hard link and then drops the staging
	// name; a crash in between leaves both names of one file.
	if a, err := os.Stat(dbPath); err == nil {
		if b, err := os.Stat(dbPath + stagingSuffix); err == nil && os.SameFile(a, b) {
			os.Remove(dbPath + stagingSuffix)
		}
	}
	for _, f := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		if err := checkPrivate(f, false); err != nil {
			return nil, err
		}
	}
	n, err := startLocked(ctx, cfg, func() (store.Store, error) { return sqlite.Open(dbPath) }, nil)
	if err != nil || cfg.Backup.To == "" {
		return n, err
	}
	if n.stopBackups, err = n.startBackups(dbPath, cfg.Backup); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// startLocked opens the node's store with open, under a shared lock on its
// data dir, and starts the node, which holds the lock until it closes.
// hold, if not nil, takes what the node must hold before it starts (its
// lease on PostgreSQL) and returns its release, which Close calls.
func startLocked(ctx context.Context, cfg Config, open func() (store.Store, error), hold func(store.Store) (func(), error)) (*Node, error) {
	lock, err := lockDirShared(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := open()
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("open store: %w", err)
	}
	release := func() {}
	if hold != nil {
		if release, err = hold(st); err != nil {
			st.Close()
			lock.Unlock()
			return nil, err
		}
	}
	n, err := start(ctx, cfg, st)
	if err != nil {
		release()
		st.Close()
		lock.Unlock()
		return nil, err
	}
	n.lock = lock
	if hold != nil {
		n.presence = release
	}
	return n, nil
}

func createDev(ctx context.Context, cfg *Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := CheckDataDir(cfg.DataDir); err != nil {
		return err
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	o := &InitOptions{DataDir: cfg.DataDir, Account: DefaultAccount, Region: region, Seal: SealKeyFile, dev: true}
	return create(ctx, o, ModeDev, nil)
}

func start(ctx context.Context, cfg Config, st store.Store) (*Node, error) {
	n := &Node{DataDir: cfg.DataDir, cfg: cfg, log: cfg.Logger, st: st}
	if cfg.Metrics != nil {
		n.observe(cfg.Metrics)
	}
	mode, err := st.GetSetting(ctx, settingMode)
	if err != nil {
		return nil, fmt.Errorf("%s: unfinished or foreign installation (no mode recorded): %w", cfg.DataDir, err)
	}
	n.Mode = string(mode)
	switch {
	case n.Mode == ModeProduction && cfg.Dev:
		return nil, fmt.Errorf("%s was made by `trent init`: serve it without --dev", cfg.DataDir)
	case n.Mode == ModeDev && !cfg.Dev:
		return nil, fmt.Errorf("%s is a --dev data dir: serve it with --dev, or make a production one with `trent init`", cfg.DataDir)
	}
	for _, s := range []struct {
		name string
		dst  *string
	}{{settingAccount, &n.Account}, {settingRegion, &n.Region}, {settingSealer, &n.SealType}} {
		v, err := st.GetSetting(ctx, s.name)
		if err != nil {
			return nil, fmt.Errorf("read setting %s: %w", s.name, err)
		}
		*s.dst = string(v)
	}
	if cfg.Dev && cfg.Region != "" {
		n.Region = cfg.Region
	}
	stype, ok := sealTypes[n.SealType]
	if !ok {
		return nil, fmt.Errorf("%s is sealed by %q, which this build of Trent does not know", cfg.DataDir, n.SealType)
	}
	n.method, err = stype.start(ctx, &n.cfg, n.Mode, st)
	if err != nil {
		return nil, err
	}
	// A provider holding a resource (an HSM login and sessions) lets it
	// go once it has unsealed, or failed to: it is not needed again until
	// the next start.
	if c, ok := n.method.auto.(io.Closer); ok {
		defer func() {
			if cerr := c.Close(); cerr != nil {
				n.log.Warn("closing the seal provider", "seal_type", n.SealType, "err", cerr)
			}
		}()
	}
	rs, err := loadRootState(ctx, st)
	if err != nil {
		return nil, err
	}
	if n.method.auto != nil {
		root, err := unsealRoot(n.method.auto, rs)
		if err != nil {
			return nil, err
		}
		if err := n.open(ctx, root); err != nil {
			return nil, err
		}
	} else if cfg.UnsealShares != nil {
		_, need := n.method.shares.Progress()
		shares, err := cfg.UnsealShares(need)
		if err != nil {
			return nil, err
		}
		for i, s := range shares {
			if _, err := n.SubmitShare(ctx, s); err != nil {
				n.method.shares.Reset()
				return nil, fmt.Errorf("unseal share %d: %w", i+1, err)
			}
		}
		if n.cur.Load() == nil {
			n.method.shares.Reset()
			return nil, fmt.Errorf("%d unseal shares given, %d needed", len(shares), need)
		}
	}
	return n, nil
}

// open builds the App on the unsealed root key and publishes it; on error
// the root key is destroyed. The caller holds n.mu or owns n alone.
func (n *Node) open(ctx context.Context, root *seal.RootKey) error {
	a, err := build(ctx, &n.cfg, n.st, root, n.Account, n.Region, n.Mode)
	if err != nil {
		return err
	}
	n.publish(ctx, a)
	return nil
}

// App returns the unsealed installation, or nil while sealed. It may be
// torn down at any moment by a seal; request handling goes through
// Handler, which holds it for the request.
func (n *Node) App() *App { return n.cur.Load() }

// Handler returns the process's HTTP handler: health, readiness, the
// /sys endpoints, and the AWS APIs while unsealed (server.Front).
func (n *Node) Handler() http.Handler {
	f := server.NewFront(n, n.log)
	if n.cfg.Metrics != nil {
		f.ServeMetricsWith(n.cfg.Metrics.Handler(), n.authorizeMetrics)
		f.ObserveWith(n.cfg.Metrics)
	}
	return f
}

// Acquire implements server.Backend.
func (n *Node) Acquire() (http.Handler, func(), bool) {
	a := n.cur.Load()
	if a == nil || !a.enter() {
		return nil, nil, false
	}
	return a.Handler, a.release, true
}

// Checks implements server.Backend: the node is ready when unsealed, its
// store answers and its audit log can take events (a request it cannot
// audit is refused).
func (n *Node) Checks() map[string]bool {
	store := n.storeReachable()
	a := n.cur.Load()
	if a == nil || !a.enter() {
		// Sealed, the audit log is closed: nothing can be recorded.
		return map[string]bool{"unsealed": false, "store": store, "audit": false}
	}
	defer a.leave()
	checks := map[string]bool{"unsealed": true, "store": store, "audit": a.Audit.Healthy()}
	if a.cluster != nil {
		checks["changes"] = a.cluster.fresh()
	}
	return checks
}

// Status implements server.Backend.
func (n *Node) Status() server.SealStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.statusLocked()
}

func (n *Node) statusLocked() server.SealStatus {
	s := server.SealStatus{
		Sealed: n.cur.Load() == nil, SealType: n.SealType,
		FIPS140: fips140.Enabled(), Version: Version(),
	}
	if n.method.shares != nil {
		s.Progress, s.Threshold = n.method.shares.Progress()
	}
	return s
}

// SubmitShare implements server.Backend: it adds one share and, at the
// threshold, unseals. A refused share leaves the progress as it was. If
// threshold-many accepted shares do not open the root key (the store's
// seal settings were changed), they are all dropped and the node stays
// sealed.
func (n *Node) SubmitShare(ctx context.Context, share string) (server.SealStatus, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
		return n.statusLocked(), fmt.Errorf("%w: Trent is shutting down", server.ErrConflict)
	case n.cur.Load() != nil:
		return n.statusLocked(), fmt.Errorf("%w: Trent is not sealed", server.ErrConflict)
	case n.method.shares == nil:
		return n.statusLocked(), fmt.Errorf("%w: this installation is sealed by %s and unseals itself when Trent starts: restart it to unseal", server.ErrConflict, n.SealType)
	}
	u := n.method.shares
	if err := u.Add(share); err != nil {
		return n.statusLocked(), fmt.Errorf("%w: %w", server.ErrRefused, err)
	}
	if got, need := u.Progress(); got < need {
		return n.statusLocked(), nil
	}
	rs, err := loadRootState(ctx, n.st)
	if err != nil {
		u.Reset()
		return n.statusLocked(), err
	}
	p, err := u.Provider(rs.sealed)
	if err != nil {
		return n.statusLocked(), fmt.Errorf("%w: %w; the shares submitted so far were dropped", server.ErrRefused, err)
	}
	root, err := unsealRoot(p, rs)
	p.Destroy()
	if err != nil {
		return n.statusLocked(), err
	}
	// The services outlive the request that completed the unseal.
	if err := n.open(context.WithoutCancel(ctx), root); err != nil {
		return n.statusLocked(), fmt.Errorf("unsealed the root key but could not start: %w", err)
	}
	n.log.Info("unsealed", "seal_type", n.SealType)
	return n.statusLocked(), nil
}

// ResetUnseal implements server.Backend.
func (n *Node) ResetUnseal() server.SealStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.method.shares != nil {
		n.method.shares.Reset()
	}
	return n.statusLocked()
}

// Seal implements server.Backend: a request signed by the root user of
// the installation's first account seals the node. Sealed already, it
// succeeds without checking anything: there is nothing left to protect
// and nothing to check a signature with.
//
// Its event is recorded on the audit log before the log closes, durable
// before the seal; a seal is never refused for want of recording it (the
// log keeps the event queued and its Close writes it if the disk takes
// it), since sealing only takes capability away.
func (n *Node) Seal(ctx context.Context, r *http.Request, body []byte) (server.SealStatus, error) {
	ev := server.NewSysEvent(r, "Seal", false)
	a := n.cur.Load()
	if a == nil || !a.enter() {
		st := n.Status()
		ev.ResponseElements = elements(map[string]bool{"sealed": st.Sealed})
		if err := n.Record(ctx, ev); err != nil {
			n.log.Error("audit: seal request not recorded yet", "err", err)
		}
		return st, nil
	}
	caller, err := n.authorizeRoot(a, r, body, "seal")
	if caller != nil {
		ev.UserIdentity = audit.IdentityOf(caller)
	}
	if err != nil {
		sysFailure(ev, err)
	} else {
		ev.ResponseElements = elements(map[string]bool{"sealed": true})
	}
	if rerr := n.recordOn(ctx, a, ev); rerr != nil {
		n.log.Error("audit: seal request not recorded yet", "err", rerr)
	}
	a.leave()
	if err != nil {
		return n.Status(), err
	}
	by := caller.Principal.ARN
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.sealLocked(); err != nil {
		n.log.Error("sealed, but closing the audit log failed", "err", err)
	}
	n.log.Warn("sealed: all key material dropped from memory", "by", by)
	return n.statusLocked(), nil
}

// sealLocked tears the App down, after the requests in flight. An error
// closing the audit log is returned, but the node is sealed regardless.
func (n *Node) sealLocked() error {
	var err error
	if a := n.cur.Swap(nil); a != nil {
		err = a.teardown()
	}
	if n.method.shares != nil {
		n.method.shares.Reset()
	}
	return err
}

// Close seals the node and closes its store. Safe to call twice.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	if k := n.sealedPending(); k > 0 && n.cur.Load() == nil {
		n.log.Warn("audit: stopping while sealed: the events of requests answered since the seal are lost (no log is open to record them)", "events", k)
	}
	if n.stopBackups != nil {
		n.stopBackups()
	}
	err := n.sealLocked()
	if n.presence != nil {
		n.presence() // once the audit log is closed
	}
	err = errors.Join(err, n.st.Close())
	if n.lock != nil {
		n.lock.Unlock()
	}
	return err
}

// version is set at build time with
// -ldflags "-X github.com/trent-kms/trent/internal/app.version=v1.2.3".
var version string

// Version is this build's version: the one set at build time, else the
// module's (a tagged `go install`), else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
