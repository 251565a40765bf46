package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/iam"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
)

// An installation on PostgreSQL (Config.DatabaseURL, InitOptions.DatabaseURL)
// keeps all its state in the database, so that several nodes can serve it;
// a node's data dir holds only what is the node's own (its audit log).

// startOnDatabase is Start for an installation in the database at
// cfg.DatabaseURL.
func startOnDatabase(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Dev {
		return nil, errors.New("--dev does not apply with a database URL: make the installation with `trent init --database-url …`")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("a node on PostgreSQL needs --data-dir for its own files (its audit log)")
	}
	if cfg.Backup.To != "" {
		return nil, errors.New("--backup-to backs up a SQLite store: on PostgreSQL use PostgreSQL's own backups (docs/postgres.md)")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := CheckDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	// The node's own lock on its own data dir: a root-key rotation turns
	// it exclusive, which keeps other processes on this node out — but not
	// other nodes, which have data dirs of their own (docs/postgres.md).
	return startLocked(ctx, cfg, func() (store.Store, error) { // node.go
		return postgres.OpenWith(ctx, cfg.DatabaseURL, postgres.Options{CallTimeout: cfg.DatabaseTimeout})
	}, func(st store.Store) (func(), error) {
		// Before anything can unseal and read this node's audit intents
		// (presence.go).
		return holdPresence(ctx, st, cfg.DataDir, cfg.Logger)
	})
}

// createOnDatabase is Init for an installation in the database at
// o.DatabaseURL. The setting "mode", written last, commits it: a database
// without it holds no installation, and one with it is refused. An init
// that stopped before it (rows but no mode) is refused too, rather than
// resumed: its root access key may have been printed already.
func createOnDatabase(ctx context.Context, o *InitOptions, publish func(*InitResult) error) error {
	stype, ok := sealTypes[o.Seal]
	if !ok {
		return fmt.Errorf("unknown seal type %q: known types are %s", o.Seal, strings.Join(slices.Sorted(maps.Keys(sealTypes)), ", "))
	}
	if o.DataDir != "" {
		if err := stype.check(o); err != nil {
			return err
		}
	} else if o.Seal == SealKeyFile && o.SealKeyFile == "" {
		return errors.New("a production installation sealed by a key file needs --seal-key-file; none was given")
	}
	st, err := postgres.Open(ctx, o.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	if _, err := st.GetSetting(ctx, settingMode); err == nil {
		return errors.New("the database already holds a Trent installation")
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := st.GetSetting(ctx, settingSealedRoot); err == nil {
		return errors.New("the database holds an unfinished `trent init`: its root access key may have been shown; drop the database's tables (or use a new database) and run init again")
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ss, err := stype.create(o, nil)
	if err != nil {
		return err
	}
	defer ss.cleanup()
	res, err := fillStore(ctx, o, st, ss, true)
	if err != nil {
		return err
	}
	if publish != nil {
		if err := publish(res); err != nil {
			return err
		}
	}
	void := ""
	if publish != nil {
		void = "what was printed above belongs to no installation: "
	}
	if err := ss.commit(); err != nil {
		return fmt.Errorf("%s%w", void, err)
	}
	if err := st.PutSetting(ctx, settingMode, []byte(ModeProduction)); err != nil {
		ss.undo()
		return fmt.Errorf("%scommit: %w", void, err)
	}
	return nil
}

// fillStore stores a new installation's settings, with a new root key
// sealed by ss, and, if rootAccessKey, the root user's access key; not its
// mode, which the caller writes last to commit the installation. Both
// stores' inits use it (stage for SQLite).
func fillStore(ctx context.Context, o *InitOptions, st store.Store, ss *stagedSeal, rootAccessKey bool) (*InitResult, error) {
	raw, err := seal.GenerateRootKey()
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	sealed, err := ss.provider.Seal(raw)
	if err != nil {
		return nil, fmt.Errorf("seal root key: %w", err)
	}
	root, err := seal.NewRootKey(raw)
	if err != nil {
		return nil, err
	}
	defer root.Destroy()
	put := map[string][]byte{
		settingAccount:    []byte(o.Account),
		settingRegion:     []byte(o.Region),
		settingSealer:     []byte(o.Seal),
		settingSealedRoot: sealed,
	}
	maps.Copy(put, ss.settings)
	for _, name := range slices.Sorted(maps.Keys(put)) {
		if err := st.PutSetting(ctx, name, put[name]); err != nil {
			return nil, fmt.Errorf("store setting %s: %w", name, err)
		}
	}
	res := &InitResult{DataDir: o.DataDir, Account: o.Account, Region: o.Region, SealType: o.Seal,
		UnsealShares: ss.shares, Threshold: o.KeyThreshold}
	if rootAccessKey {
		res.AccessKeyID, res.SecretAccessKey, err = iam.NewDirectory(st, root).CreateAccessKey(ctx, o.Account)
		if err != nil {
			return nil, fmt.Errorf("create root access key: %w", err)
		}
	}
	return res, nil
}
