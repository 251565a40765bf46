package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/seal/pkcs11"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// Resealing: `trent rekey` (new Shamir shares) and `trent seal migrate`
// (key file ↔ shamir ↔ pkcs11) seal the same root key again under a new
// seal. No backing key, access key or other stored secret is touched:
// they are wrapped by the root key, which does not change. Both run
// offline, on a stopped installation: they take the data dir's exclusive
// lock, which every running server (and `trent account create`) holds
// shared, so neither can run beside one. On PostgreSQL (DatabaseURL) the
// cluster's leases stand in for that lock (offline.go).
//
// Atomicity: the new seal's material outside the store (a new key file)
// is put in place first; then one transaction replaces the seal type, the
// sealed root key and the seal's settings. A crash before that
// transaction leaves the old seal in force, untouched; after it, the new
// one. A key file an interrupted run left behind is recognised by the
// next run (settingResealStaged holds what it sealed) and replaced.

// settingResealStaged holds, between putting a new key file in place and
// committing, the root key as that key file sealed it.
const settingResealStaged = "seal.reseal.staged"

// sealSettings are the settings each seal type keeps beside the sealed
// root key.
var sealSettings = map[string][]string{
	SealKeyFile: nil,
	SealShamir:  {settingShamir},
	SealPKCS11:  {settingPKCS11},
}

// ResealOptions says which installation to reseal, how to open its
// current seal, and what the new seal is.
type ResealOptions struct {
	DataDir string
	// DatabaseURL, if set, is the PostgreSQL database holding the
	// installation instead of DataDir (offline.go says what keeps
	// running nodes and rotations out).
	DatabaseURL string
	// The current seal: its key file (keyfile), its token's PIN file or
	// LookupEnv for TRENT_PKCS11_PIN (pkcs11), or, for shamir,
	// ReadShares, which is asked for threshold-many unseal shares.
	SealKeyFile   string
	PKCS11PINFile string
	LookupEnv     func(string) (string, bool)
	ReadShares    func(threshold int) ([]string, error)
	// Check, if set, may refuse the current seal type before anything is
	// opened (rekey takes only shamir installations).
	Check func(from string) error

	// step, when set (tests only), runs after the new seal's files are in
	// place and before the store commits; an error stops Reseal there,
	// leaving what a crash at that point would.
	step func(name string) error

	// To is the new seal: To.Seal and that seal's options as init takes
	// them (To.SealKeyFile is the new key file; To.PKCS11PIN the
	// resolved PIN of the new token). DataDir, Account and Region are
	// ignored. For shamir → shamir (rekey), zero KeyShares and
	// KeyThreshold keep the current ones.
	To InitOptions
}

// ResealResult is what Reseal hands out once, before it commits.
type ResealResult struct {
	DataDir, From, To string
	// UnsealShares are the new seal's shares (to shamir), share 1 first.
	UnsealShares []string
	Threshold    int
}

// Reseal seals the installation's root key under o.To instead of its
// current seal. It calls publish with what must be shown once (new
// shares), then commits; if publish fails nothing is committed. The old
// seal's material is left where it was: the old key file stays on disk,
// the old token key in its token (the operator removes them once the new
// seal has been seen to work), and old shares no longer open anything.
func Reseal(ctx context.Context, o ResealOptions, publish func(*ResealResult) error) (err error) {
	var (
		st    store.Store
		guard *offlineGuard // on a database: the lease that keeps rotations and reseals apart
	)
	if o.DatabaseURL != "" {
		db, g, err := openDatabaseOffline(ctx, o.DatabaseURL, "change the seal")
		if err != nil {
			return err
		}
		defer db.Close()
		defer g.release()
		st, guard = db, g
		o.DataDir = ""
	} else {
		dbPath := filepath.Join(o.DataDir, dbFile)
		if _, err := os.Stat(dbPath); err != nil {
			return fmt.Errorf("%s holds no Trent installation: %w", o.DataDir, err)
		}
		if err := CheckDataDir(o.DataDir); err != nil {
			return err
		}
		unlock, err := lockDirOffline(o.DataDir)
		if err != nil {
			return err
		}
		defer unlock()
		db, err := sqlite.Open(dbPath)
		if err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		defer db.Close()
		st = db
	}
	where := o.DataDir
	if where == "" {
		where = "the database"
	}
	get := func(name string) (string, error) {
		v, err := st.GetSetting(ctx, name)
		if err != nil {
			return "", fmt.Errorf("read setting %s: %w", name, err)
		}
		return string(v), nil
	}
	mode, err := get(settingMode)
	if err != nil {
		return err
	}
	if mode != ModeProduction {
		return fmt.Errorf("%s is a --dev installation, sealed by a key file in its data dir; only an installation made by `trent init` changes its seal", where)
	}
	from, err := get(settingSealer)
	if err != nil {
		return err
	}
	if o.Check != nil {
		if err := o.Check(from); err != nil {
			return err
		}
	}
	rs, err := loadRootState(ctx, st)
	if err != nil {
		return err
	}
	if rs.next != nil {
		return errors.New("a root-key rotation is unfinished: run `trent rotate-root` against a server of this installation to finish it first")
	}

	// The new seal's options, checked before the old seal is opened.
	to := o.To
	to.DataDir, to.dev = o.DataDir, false
	if to.Seal == "" {
		return errors.New("no new seal type given")
	}
	if from == SealShamir && to.Seal == SealShamir && to.KeyShares == 0 && to.KeyThreshold == 0 {
		c, err := shamirConfig(ctx, st) // seals.go
		if err != nil {
			return err
		}
		to.KeyShares, to.KeyThreshold = c.Shares, c.Threshold
	}
	stype, ok := sealTypes[to.Seal]
	if !ok {
		return fmt.Errorf("unknown seal type %q: known types are %s", to.Seal, strings.Join(slices.Sorted(maps.Keys(sealTypes)), ", "))
	}
	if err := stype.check(&to); err != nil {
		return err
	}

	// Open the current seal and the root key.
	cfg := &Config{DataDir: o.DataDir, SealKeyFile: o.SealKeyFile, PKCS11PINFile: o.PKCS11PINFile, LookupEnv: o.LookupEnv}
	var shares []string
	if from == SealShamir {
		if o.SealKeyFile != "" || o.PKCS11PINFile != "" {
			return fmt.Errorf("%s is sealed by Shamir shares: give threshold-many of them on standard input, not a key file or PIN file", where)
		}
		c, err := shamirConfig(ctx, st) // seals.go
		if err != nil {
			return err
		}
		if o.ReadShares == nil {
			return errors.New("the installation is sealed by Shamir shares, and none can be read")
		}
		if shares, err = o.ReadShares(c.Threshold); err != nil {
			return err
		}
		defer clearStrings(shares)
	} else if from == SealPKCS11 && to.Seal == SealPKCS11 && cfg.PKCS11PINFile == "" && to.PKCS11PIN != "" {
		// One PIN for both ends, given once.
		pin := to.PKCS11PIN
		cfg.LookupEnv = func(k string) (string, bool) { return pin, k == pkcs11.PINEnv }
	}
	old, done, err := openSeal(ctx, cfg, mode, from, st, shares, rs.sealed)
	if err != nil {
		return fmt.Errorf("open the current seal (%s): %w", from, err)
	}
	defer done()
	raw, err := old.Unseal(rs.sealed)
	if err != nil {
		return fmt.Errorf("unseal root key: %w", err)
	}
	defer clear(raw)

	// Make the new seal and seal the root key with it.
	staged, _ := st.GetSetting(ctx, settingResealStaged)
	ss, err := stype.create(&to, staged)
	if err != nil {
		return err
	}
	defer ss.cleanup()
	sealed, err := ss.provider.Seal(raw)
	if err != nil {
		return fmt.Errorf("seal root key with the new seal: %w", err)
	}
	check, err := ss.provider.Unseal(sealed)
	ok = err == nil && bytes.Equal(check, raw)
	clear(check)
	if !ok {
		return fmt.Errorf("the new seal does not give back the root key it sealed: %v", err)
	}
	res := &ResealResult{DataDir: o.DataDir, From: from, To: to.Seal, UnsealShares: ss.shares}
	if to.Seal == SealShamir {
		res.Threshold = to.KeyThreshold
	}
	if err := st.PutSetting(ctx, settingResealStaged, sealed); err != nil {
		return fmt.Errorf("store setting %s: %w", settingResealStaged, err)
	}
	if publish != nil {
		if err := publish(res); err != nil {
			return err
		}
	}
	void := ""
	if publish != nil && len(ss.shares) > 0 {
		void = "the shares printed above open nothing; the old seal is still in force: "
	}
	if err := ss.commit(); err != nil {
		return fmt.Errorf("%s%w", void, err)
	}
	if o.step != nil {
		if err := o.step(stepSealCommitted); err != nil {
			return err
		}
	}
	put := map[string][]byte{settingSealer: []byte(to.Seal), settingSealedRoot: sealed}
	maps.Copy(put, ss.settings)
	remove := []string{settingResealStaged}
	for _, name := range sealSettings[from] {
		if _, ok := put[name]; !ok {
			remove = append(remove, name)
		}
	}
	rw, ok := st.(store.Rewrap)
	if !ok {
		ss.undo()
		return fmt.Errorf("this store (%T) cannot update its settings atomically", st)
	}
	if err := guard.check(ctx); err != nil {
		ss.undo()
		return fmt.Errorf("%snot committed: %w", void, err)
	}
	if err := rw.UpdateSettings(ctx, put, remove); err != nil {
		ss.undo()
		return fmt.Errorf("%scommit the new seal: %w", void, err)
	}
	return nil
}
