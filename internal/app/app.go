// Package app assembles a Trent server from its parts: it opens the data
// directory, unseals the root key, and wires store, KMS service, identity
// and HTTP handler together. cmd/trent and the end-to-end tests both build
// their servers through it, so tests exercise the same wiring as users.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/iam"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlite"
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
)

// Config says which data directory to open and how.
type Config struct {
	DataDir string
	Dev     bool
	// Region overrides the stored region (dev mode only).
	Region string
	// SealKeyFile is the key file that seals the root key of a production
	// installation. Required, and outside DataDir; dev mode ignores it and
	// uses the key file in its data dir.
	SealKeyFile string
	Clock       clock.Clock
	Logger      *slog.Logger
	// AuditFS is the audit log's file layer (nil: the real disk); tests
	// make it fail.
	AuditFS audit.FileSystem
	// Identities answers KMS authorization's questions about principals;
	// nil leaves callers without identity-based policies.
	Identities kms.Identities
}

// App is an opened Trent installation.
type App struct {
	Store     store.Store
	KMS       *kms.Service
	Directory *iam.Directory
	// IAM serves the IAM and STS APIs and resolves every access key.
	IAM *iam.Service
	// Audit is the audit log every request is recorded in.
	Audit    *audit.Log
	Verifier *sigv4.Verifier
	Handler  http.Handler
	Account  string
	Region   string
	Mode     string
	root     *seal.RootKey
}

// Init creates a production installation in dataDir: the store, a root key
// sealed by a new key file at sealKeyFile, the account and its root access
// key, whose secret is returned once. The key file must lie outside
// dataDir, so that a copy of the data dir cannot unseal it; Init checks
// that before it creates anything.
func Init(ctx context.Context, dataDir, sealKeyFile, account, region string) (accessKeyID, secret string, err error) {
	if sealKeyFile == "" {
		return "", "", errors.New("a production installation needs a seal key file outside its data dir; none was given")
	}
	if err := checkKeyFileOutside(dataDir, sealKeyFile); err != nil {
		return "", "", err
	}
	if _, err := os.Stat(filepath.Join(dataDir, dbFile)); err == nil {
		return "", "", fmt.Errorf("%s already holds a Trent installation", dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", "", fmt.Errorf("create data dir: %w", err)
	}
	// Again, now that the data dir exists and its real path is known.
	if err := checkKeyFileOutside(dataDir, sealKeyFile); err != nil {
		return "", "", err
	}
	kf, err := seal.CreateKeyFile(sealKeyFile)
	if err != nil {
		return "", "", fmt.Errorf("create seal key file: %w", err)
	}
	st, root, err := create(ctx, dataDir, kf, ModeProduction, account, region)
	if err != nil {
		return "", "", err
	}
	defer st.Close()
	defer root.Destroy()
	return iam.NewDirectory(st, root).CreateAccessKey(ctx, account)
}

// create makes the store of a new installation and its root key.
func create(ctx context.Context, dataDir string, p seal.Provider, mode, account, region string) (store.Store, *seal.RootKey, error) {
	raw, err := seal.GenerateRootKey()
	if err != nil {
		return nil, nil, fmt.Errorf("generate root key: %w", err)
	}
	defer clear(raw)
	sealed, err := p.Seal(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("seal root key: %w", err)
	}
	root, err := seal.NewRootKey(raw)
	if err != nil {
		return nil, nil, err
	}
	dbPath := filepath.Join(dataDir, dbFile)
	if err := createPrivate(dbPath); err != nil {
		return nil, nil, fmt.Errorf("create store: %w", err)
	}
	st, err := sqlite.Open(dbPath)
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	for _, s := range []struct {
		name  string
		value []byte
	}{
		{settingAccount, []byte(account)},
		{settingRegion, []byte(region)},
		{settingSealer, []byte(p.Name())},
		{settingSealedRoot, sealed},
		// mode last: a directory without it is an unfinished init.
		{settingMode, []byte(mode)},
	} {
		if err := st.PutSetting(ctx, s.name, s.value); err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("store setting %s: %w", s.name, err)
		}
	}
	return st, root, nil
}

// Open opens (and in dev mode, creates) the installation in cfg.DataDir.
func Open(ctx context.Context, cfg Config) (*App, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	st, root, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &App{Store: st, root: root}
	if err := a.loadSettings(ctx, cfg); err != nil {
		a.Close()
		return nil, err
	}
	a.Directory = iam.NewDirectory(st, root)
	a.IAM, err = iam.New(ctx, iam.Config{Store: st, Root: root, Clock: cfg.Clock, Logger: log})
	if err != nil {
		a.Close()
		return nil, err
	}
	ids := cfg.Identities
	if ids == nil {
		ids = identities{a.IAM}
	}
	if err := a.openAudit(ctx, cfg.DataDir, cfg.AuditFS, log); err != nil {
		a.Close()
		return nil, err
	}
	a.KMS, err = kms.New(kms.Config{Store: st, Root: root, Identities: ids, ServiceEvents: a.Audit.Record, Clock: cfg.Clock, Logger: log})
	if err != nil {
		a.Close()
		return nil, err
	}
	// Any region: keys live in the region their requests are signed for.
	a.Verifier = &sigv4.Verifier{
		Services:  []string{"kms", "iam", "sts"},
		LookupKey: a.IAM.LookupKey, LookupSession: a.IAM.LookupSession,
	}
	srv := server.New(a.KMS, a.Verifier, log)
	srv.ServeQueryWith(queryAPI{a.IAM})
	srv.AuditWith(a.Audit)
	a.Handler = srv
	return a, nil
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
	req := &iam.Request{Caller: r.Caller, RequestID: r.RequestID, SourceIP: r.SourceIP, Region: r.Region, Audit: r.Audit}
	return q.iam.Serve(ctx, r.Service, req, op, in)
}

// createPrivate creates an empty file only its owner can read and write,
// refusing to replace one. SQLite gives its -wal and -shm files the mode
// of the database file, so creating the database this way, whatever the
// umask, makes all three private.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

func openStore(ctx context.Context, cfg Config) (store.Store, *seal.RootKey, error) {
	dbPath := filepath.Join(cfg.DataDir, dbFile)
	_, statErr := os.Stat(dbPath)
	if errors.Is(statErr, os.ErrNotExist) {
		if !cfg.Dev {
			return nil, nil, fmt.Errorf("%s holds no Trent installation: run `trent init --data-dir %s` first, or use --dev", cfg.DataDir, cfg.DataDir)
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("create data dir: %w", err)
		}
		if err := CheckDataDir(cfg.DataDir); err != nil {
			return nil, nil, err
		}
		kf, err := seal.CreateKeyFile(filepath.Join(cfg.DataDir, devSealKeyFile))
		if err != nil {
			return nil, nil, fmt.Errorf("create dev seal key: %w", err)
		}
		region := cfg.Region
		if region == "" {
			region = DefaultRegion
		}
		return create(ctx, cfg.DataDir, kf, ModeDev, DefaultAccount, region)
	}
	if err := CheckDataDir(cfg.DataDir); err != nil {
		return nil, nil, err
	}
	for _, f := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		if err := checkPrivate(f, false); err != nil {
			return nil, nil, err
		}
	}
	st, err := sqlite.Open(dbPath)
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	mode, err := st.GetSetting(ctx, settingMode)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("%s: unfinished or foreign installation (no mode recorded): %w", cfg.DataDir, err)
	}
	switch {
	case string(mode) == ModeProduction && cfg.Dev:
		st.Close()
		return nil, nil, fmt.Errorf("%s was made by `trent init`: serve it without --dev", cfg.DataDir)
	case string(mode) == ModeDev && !cfg.Dev:
		st.Close()
		return nil, nil, fmt.Errorf("%s is a --dev data dir: serve it with --dev, or make a production one with `trent init`", cfg.DataDir)
	}
	// Dev mode keeps its key file in its data dir, by design: a dev
	// installation is for trying Trent out, not for secrets.
	keyFile := filepath.Join(cfg.DataDir, devSealKeyFile)
	if string(mode) == ModeProduction {
		keyFile = cfg.SealKeyFile
		err := checkKeyFileOutside(cfg.DataDir, keyFile)
		if keyFile == "" {
			err = errors.New("a production installation is unsealed by a seal key file outside its data dir; none was given")
		}
		if err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	kf, err := seal.OpenKeyFile(keyFile)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("open seal key file: %w", err)
	}
	sealed, err := st.GetSetting(ctx, settingSealedRoot)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("read sealed root key: %w", err)
	}
	raw, err := kf.Unseal(sealed)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("unseal root key with %s: %w", keyFile, err)
	}
	defer clear(raw)
	root, err := seal.NewRootKey(raw)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, root, nil
}

func (a *App) loadSettings(ctx context.Context, cfg Config) error {
	for _, s := range []struct {
		name string
		dst  *string
	}{{settingMode, &a.Mode}, {settingAccount, &a.Account}, {settingRegion, &a.Region}} {
		v, err := a.Store.GetSetting(ctx, s.name)
		if err != nil {
			return fmt.Errorf("read setting %s: %w", s.name, err)
		}
		*s.dst = string(v)
	}
	if cfg.Dev && cfg.Region != "" {
		a.Region = cfg.Region
	}
	return nil
}

// Close closes the store and forgets the root key.
func (a *App) Close() error {
	var err error
	if a.Audit != nil {
		// Last: its closing digest covers every event of this run.
		err = a.Audit.Close()
		a.Audit = nil
	}
	if a.Store != nil {
		err = errors.Join(err, a.Store.Close())
	}
	if a.root != nil {
		a.root.Destroy()
	}
	return err
}
