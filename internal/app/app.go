// Package app assembles a Trent server from its parts: it makes (init.go)
// and opens the data directory, unseals the root key by the installation's
// seal type (seals.go), and wires store, KMS service, identity and HTTP
// handler together. A Node (node.go) is a running installation, sealed or
// not; an App is its unsealed part, which exists only between unseal and
// seal. cmd/trent and the end-to-end tests both build their servers
// through it, so tests exercise the same wiring as users.
package app

import (
	"cmp"
	"context"
	"crypto/fips140"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/cloudtrail"
	"github.com/trent-kms/trent/internal/iam"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/jobs"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/metrics"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/throttle"
)

// Installation modes, recorded in the store when a data directory is made.
const (
	ModeDev        = "dev"
	ModeProduction = "production"

	DefaultAccount = "111122223333"
	DefaultRegion  = "us-east-1"

	dbFile         = "trent.db"
	devSealKeyFile = "dev-seal.key"

	settingMode       = "mode"
	settingAccount    = "account"
	settingRegion     = "region"
	settingSealer     = "seal.provider"
	settingSealedRoot = "seal.root"
	// settingInstallation is a random id made with a SQLite store
	// (migration 0008) and carried by its backups (backup.go).
	settingInstallation = "installation.id"
)

// Config says which data directory to open and how.
type Config struct {
	DataDir string
	Dev     bool
	// Region overrides the stored region (dev mode only).
	Region string
	// SealKeyFile is the key file that seals the root key of a production
	// installation of seal type SealKeyFile: required for those, outside
	// DataDir, and refused for other seal types. Dev mode ignores it and
	// uses the key file in its data dir.
	SealKeyFile string
	// PKCS11PINFile holds the token PIN of an installation of seal type
	// SealPKCS11; without it the PIN comes from TRENT_PKCS11_PIN, looked
	// up with LookupEnv (nil: os.LookupEnv). Refused for other seal
	// types. The caller that owns the process (cmd/trent) reads and
	// unsets the variable first and passes a LookupEnv that returns what
	// it read, so that nothing the process starts inherits the PIN.
	PKCS11PINFile string
	LookupEnv     func(string) (string, bool)
	Clock         clock.Clock
	Logger        *slog.Logger
	// AuditFS is the audit log's file layer (nil: the real disk); tests
	// make it fail.
	AuditFS audit.FileSystem
	// Identities answers KMS authorization's questions about principals;
	// nil leaves callers without identity-based policies.
	Identities kms.Identities
	// JobInterval, when positive, runs the lifecycle jobs (deletions,
	// rotations) at that interval while unsealed.
	JobInterval time.Duration
	// AuditOrphanAge is how old the audit intents of a stopped node must
	// be before the node running the jobs records their events
	// (internal/audit/orphan.go; 0: audit.DefaultOrphanAge).
	AuditOrphanAge time.Duration
	// AuditHousekeeping archives and prunes the audit log on a schedule
	// (housekeeping.go); its zero value does neither.
	AuditHousekeeping AuditHousekeeping
	// Backup backs a SQLite store up on a schedule (backupschedule.go);
	// its zero value does not.
	Backup BackupSchedule
	// KeyCache bounds the KMS cache of unwrapped keys (nil: the defaults,
	// kms.DefaultCacheConfig). Its idle sweeper runs while unsealed.
	KeyCache *kms.CacheConfig
	// Throttle limits request rates per account, region and AWS quota
	// class (internal/throttle); nil throttles nothing.
	Throttle *throttle.Config
	// Metrics, when set, counts every API request and reads the
	// installation's state at scrape time (observe.go); it outlives
	// seals and unseals.
	Metrics *metrics.Registry

	// UnsealShares, for an installation sealed by Shamir shares, is asked
	// at start for threshold-many shares, which unseal it at once (tools
	// such as `trent account create`); a server leaves it nil and lets
	// operators unseal it. Other seal types never call it.
	UnsealShares func(threshold int) ([]string, error)

	// DatabaseURL, if set, is the PostgreSQL database that holds the
	// installation (database.go); DataDir then holds only the node's own
	// files.
	DatabaseURL string
	// DatabaseTimeout bounds each call to the database (zero: the store's
	// default, postgres.DefaultCallTimeout); a call that cannot be served
	// within it is answered as the database's trouble (docs/postgres.md).
	DatabaseTimeout time.Duration
}

// App is the unsealed part of a Trent installation: everything that needs
// the root key. A Node builds one when it unseals and tears it down when
// it seals; nothing of it survives a seal.
type App struct {
	Store     store.Store
	KMS       *kms.Service
	Directory *iam.Directory
	// IAM serves the IAM and STS APIs and resolves every access key.
	IAM *iam.Service
	// Audit is the audit log every request is recorded in. It is part of
	// the unsealed installation because its signing key is wrapped by the
	// root key: a seal closes it (with a closing digest), an unseal opens
	// it again.
	Audit    *audit.Log
	shipper  *audit.Shipper // copies Audit into the database, on PostgreSQL (clusteraudit.go)
	Verifier *sigv4.Verifier
	Handler  http.Handler
	Account  string
	Region   string
	Mode     string
	// Throttle is the request-rate limiter, nil when throttling is off.
	Throttle *throttle.Limiter
	root     *seal.RootKey

	// inflight is held shared by every request a serves and exclusively
	// by teardown, which so waits for them; closed is set under it.
	inflight sync.RWMutex
	closed   bool
	// pauseBodyReads cuts short the body reads of the requests in flight
	// (server.Server.PauseBodyReads), so that teardown and a root-key
	// rotation's barrier wait for no client.
	pauseBodyReads func() (resume func())
	release        func() // a.leave, made once so Acquire allocates nothing
	stopJobs       func()
	owner          *Node // set by Open, whose caller closes the whole Node

	// jobMu is held shared by each run of the lifecycle jobs, as inflight
	// by each request: a root-key rotation waits for both (rotate.go).
	jobMu sync.RWMutex

	// cluster applies other nodes' changes to the caches; nil unless the
	// store is shared (cluster.go).
	cluster *cluster

	// The scheduled audit tasks configured here, and their outcomes
	// (housekeeping.go); set while building, read by the metrics.
	archiving, pruning       bool
	archiveStats, pruneStats taskStats
}

// Open opens the installation in cfg.DataDir (creating it in dev mode)
// and returns it unsealed, for tools that need it at once (`trent account
// create`, tests). An installation whose seal needs operators (shamir)
// cannot be opened this way. Close closes everything.
func Open(ctx context.Context, cfg Config) (*App, error) {
	n, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := n.App()
	if a == nil {
		n.Close()
		return nil, fmt.Errorf("%s is sealed by %s and unseals only in a running server (`trent serve`, then `trent unseal`)", cfg.DataDir, n.SealType)
	}
	a.owner = n
	return a, nil
}

// build makes the unsealed part of an installation: the services on the
// store and root key, the verifier and the API handler, and, if
// configured, the lifecycle job runner. On error it destroys root.
func build(ctx context.Context, cfg *Config, st store.Store, root *seal.RootKey, account, region, mode string) (*App, error) {
	log := cfg.Logger
	a := &App{Store: st, root: root, Account: account, Region: region, Mode: mode, stopJobs: func() {}}
	a.release = a.leave
	fail := func(err error) (*App, error) {
		if a.Audit != nil {
			a.Audit.Close()
			a.stopShipper()
		}
		root.Destroy()
		return nil, err
	}
	var err error
	a.Directory = iam.NewDirectory(st, root)
	a.IAM, err = iam.New(ctx, iam.Config{Store: st, Root: root, Clock: cfg.Clock, Logger: log})
	if err != nil {
		return fail(err)
	}
	ids := cfg.Identities
	if ids == nil {
		ids = identities{a.IAM}
	}
	if err := a.openAudit(ctx, cfg.DataDir, cfg.AuditFS, cfg.AuditHousekeeping.ArchiveTo, log); err != nil {
		return fail(err)
	}
	// FIPS mode is the process's, however it was entered (serve --fips
	// or GODEBUG): with the module on, nothing outside it may run.
	var allow func(account, region string, c throttle.Class) bool
	if cfg.Throttle != nil {
		if a.Throttle, err = throttle.New(*cfg.Throttle); err != nil {
			return fail(err)
		}
		allow = a.Throttle.Allow
	}
	a.KMS, err = kms.New(kms.Config{Store: st, Root: root, Identities: ids, ServiceEvents: a.Audit.Record,
		LastUsage: lastUsage(a.Audit), Clock: cfg.Clock, Logger: log, FIPS140: fips140.Enabled(),
		KeyCache: cfg.KeyCache, Throttle: allow})
	if err != nil {
		return fail(err)
	}
	trail, err := cloudtrail.New(cloudtrail.Config{Log: a.auditSearcher(), Authorize: cloudTrailAuthorizer(a.IAM)})
	if err != nil {
		return fail(err)
	}
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	sweeperDone := make(chan struct{})
	go func() { defer close(sweeperDone); a.KMS.RunCacheSweeper(sweepCtx) }()
	// Any region: keys live in the region their requests are signed for.
	a.Verifier = &sigv4.Verifier{
		Services:  []string{"kms", "iam", "sts", "cloudtrail"},
		LookupKey: a.IAM.LookupKey, LookupSession: a.IAM.LookupSession,
	}
	srv := server.New(a.KMS, a.Verifier, log)
	srv.ServeQueryWith(queryAPI{a.IAM})
	srv.ServeCloudTrailWith(trail)
	srv.AuditWith(a.Audit)
	if cfg.Metrics != nil {
		srv.ObserveWith(cfg.Metrics)
	}
	a.Handler, a.pauseBodyReads = srv, srv.PauseBodyReads
	stopArchiver, err := a.startAuditArchiver(cfg.AuditHousekeeping, log)
	if err != nil {
		stopSweep()
		<-sweeperDone
		return fail(err)
	}
	a.stopJobs = func() { stopArchiver(); stopSweep(); <-sweeperDone }
	if cfg.JobInterval > 0 {
		jobCtx, cancel := context.WithCancel(context.Background())
		orphanAge := cmp.Or(cfg.AuditOrphanAge, audit.DefaultOrphanAge)
		prune := a.newAuditPruning(cfg.AuditHousekeeping)
		lifecycle := func(ctx context.Context) error {
			a.jobMu.RLock()
			defer a.jobMu.RUnlock()
			err := a.KMS.RunDue(ctx)
			if n, oerr := a.Audit.RecoverOrphanedIntents(ctx, orphanAge); oerr != nil {
				err = errors.Join(err, oerr)
			} else if n > 0 {
				cmp.Or(log, slog.Default()).Warn("audit: recorded the events of stopped nodes' requests whose change was committed and whose event was never written", "events", n)
			}
			return err
		}
		// The prune touches no key: a root-key rotation, which waits for
		// jobMu, need not wait for it too.
		work := func(ctx context.Context) error {
			return errors.Join(lifecycle(ctx), prune.run(ctx, log))
		}
		runner := &jobs.Runner{Interval: cfg.JobInterval, Work: work, Log: log, Lease: jobLease(st)}
		done := runner.Start(jobCtx)
		a.stopJobs = func() { cancel(); <-done; stopArchiver(); stopSweep(); <-sweeperDone }
	}
	// Other nodes on the same store: their changes reach the caches
	// through the store's feed (cluster.go).
	if feed, ok := st.(store.ChangeFeed); ok {
		a.watchChanges(feed, log)
	}
	return a, nil
}

// enter admits a request to a; it fails once a is being torn down.
func (a *App) enter() bool {
	a.inflight.RLock()
	if a.closed {
		a.inflight.RUnlock()
		return false
	}
	return true
}

func (a *App) leave() { a.inflight.RUnlock() }

// teardown waits for the requests in flight, stops the jobs, closes the
// audit log (after the jobs, which record events; its closing digest then
// covers every event of this unsealed period) and drops every piece of
// key material a holds: the audit signing key, the KMS caches (zeroed)
// and the root key. The services keep no other reference that outlives
// them; the store stays open (it holds nothing unwrapped).
func (a *App) teardown() error {
	if a.pauseBodyReads != nil {
		a.pauseBodyReads() // for good: the App is going
	}
	a.inflight.Lock()
	already := a.closed
	a.closed = true
	a.inflight.Unlock()
	if already {
		return nil
	}
	a.stopJobs()
	var err error
	if a.Audit != nil {
		err = a.Audit.Close()
		a.stopShipper()
		a.Audit = nil
	}
	a.KMS.Close()
	a.root.Destroy()
	return err
}

// Close closes what Open opened: services, root key and store. An App of
// a running Node is closed by the Node.
func (a *App) Close() error {
	if a.owner != nil {
		return a.owner.Close()
	}
	return a.teardown()
}

// identities answers the KMS service's questions about principals from
// the iam.Service.
type identities struct{ iam *iam.Service }

func (i identities) PrincipalPolicies(ctx context.Context, c *identity.Caller) (*policy.Policies, error) {
	pp, err := i.iam.PrincipalPolicies(ctx, c)
	if err != nil {
		return nil, err
	}
	return pp.Shared(), nil
}

func (i identities) PrincipalExists(ctx context.Context, arn string) bool {
	return i.iam.PrincipalExists(ctx, arn)
}

// queryAPI serves IAM and STS requests with the iam.Service, which
// authorizes each operation before it runs it.
type queryAPI struct{ iam *iam.Service }

func (q queryAPI) ServeQuery(ctx context.Context, r *server.QueryRequest, op *awsquery.Operation, in any) (any, error) {
	// Audit passes the event on: iam.Serve fills its requestParameters and
	// responseElements (through allow-lists that refuse secrets).
	req := &iam.Request{Caller: r.Caller, RequestID: r.RequestID, SourceIP: r.SourceIP, Region: r.Region,
		SecureTransport: r.SecureTransport, Audit: r.Audit}
	return q.iam.Serve(ctx, r.Service, req, op, in)
}

// cloudTrailAuthorizer decides CloudTrail actions as IAM decides its own:
// by the caller's identity policies (CloudTrail has no resource policies
// on events).
func cloudTrailAuthorizer(svc *iam.Service) func(context.Context, *cloudtrail.Request, string, string) error {
	return func(ctx context.Context, r *cloudtrail.Request, action, resource string) error {
		req := &iam.Request{Caller: r.Caller, RequestID: r.RequestID, SourceIP: r.SourceIP, Region: r.Region,
			SecureTransport: r.SecureTransport}
		return svc.AuthorizeAction(ctx, req, action, resource)
	}
}
