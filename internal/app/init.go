package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/durable"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// InitOptions says what installation Init makes.
type InitOptions struct {
	DataDir string
	Account string // default DefaultAccount
	Region  string // default DefaultRegion
	// Seal is the seal type: SealKeyFile (the default), SealShamir or
	// SealPKCS11.
	Seal string
	// SealKeyFile is the key file to create (SealKeyFile), outside
	// DataDir.
	SealKeyFile string
	// KeyShares and KeyThreshold split the unseal key (SealShamir).
	KeyShares, KeyThreshold int
	// PKCS11Module, PKCS11TokenLabel and PKCS11KeyLabel name the token
	// key that seals the root key (SealPKCS11); init creates the key if
	// the token lacks it, and stores these three, never the PIN.
	PKCS11Module, PKCS11TokenLabel, PKCS11KeyLabel string
	// PKCS11PIN logs in to the token (SealPKCS11). The caller resolves it
	// (pkcs11.ResolvePIN) before calling Init, so that a missing PIN is
	// refused before anything is created.
	PKCS11PIN string

	// DatabaseURL, if set, makes the installation in that PostgreSQL
	// database instead of DataDir (database.go); DataDir may be "".
	DatabaseURL string

	dev bool
	// step, when set (tests only), runs after each named step of init; an
	// error stops init there as a failure would.
	step func(name string) error
}

// InitResult is what Init hands out once, before it commits: the root
// access key and the unseal shares exist nowhere else.
type InitResult struct {
	DataDir, Account, Region, SealType string
	AccessKeyID, SecretAccessKey       string
	// UnsealShares are the shamir seal's shares, in order (share 1
	// first); nil for other seals.
	UnsealShares []string
	Threshold    int
}

// Init creates a production installation in o.DataDir: the store, a root
// key sealed as o.Seal says, the account and its root access key. It
// calls publish with what must be shown once, then commits; if publish
// fails nothing is committed.
//
// Init is atomic: it builds everything under staging names and commits by
// linking them into place, so a failure or a crash at any point leaves
// either a complete installation or nothing that blocks running init
// again (a rerun removes what an unfinished init left). The price of
// publishing before committing: if the commit itself fails, what was
// published belongs to no installation, and the error says so.
func Init(ctx context.Context, o InitOptions, publish func(*InitResult) error) error {
	if o.Seal == "" {
		o.Seal = SealKeyFile
	}
	if o.Account == "" {
		o.Account = DefaultAccount
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.DatabaseURL != "" {
		return createOnDatabase(ctx, &o, publish)
	}
	return create(ctx, &o, ModeProduction, publish)
}

// stagingSuffix names the store (and key file) of an init in progress.
const stagingSuffix = ".init"

// Steps of create, for InitOptions.step.
const (
	stepStaged        = "staged"         // store built and closed under its staging name
	stepPublished     = "published"      // publish returned
	stepSealCommitted = "seal committed" // the seal's own files are in place
	stepStoreLinked   = "store linked"   // the store has its final name, and its staging name still
)

// create makes a new installation of the given mode (see Init).
func create(ctx context.Context, o *InitOptions, mode string, publish func(*InitResult) error) (err error) {
	stype, ok := sealTypes[o.Seal]
	if !ok {
		return fmt.Errorf("unknown seal type %q: known types are %s", o.Seal, strings.Join(slices.Sorted(maps.Keys(sealTypes)), ", "))
	}
	if err := stype.check(o); err != nil {
		return err
	}
	dbPath := filepath.Join(o.DataDir, dbFile)
	if _, err := os.Stat(dbPath); err == nil {
		return fmt.Errorf("%s already holds a Trent installation", o.DataDir)
	}
	_, statErr := os.Stat(o.DataDir)
	made := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if made {
		defer func() {
			if err != nil {
				os.Remove(o.DataDir) // only if empty: it may hold the lock's nothing, or a user's file
			}
		}()
	}
	// Again, now that the data dir exists and its real path is known.
	if err := stype.check(o); err != nil {
		return err
	}
	unlock, err := lockDir(o.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(dbPath); err == nil {
		return fmt.Errorf("%s already holds a Trent installation", o.DataDir)
	}

	staging := dbPath + stagingSuffix
	ss, err := stype.create(o, stagedSealedRoot(ctx, staging))
	if err != nil {
		return err
	}
	defer ss.cleanup()
	committed := false
	defer func() {
		if !committed {
			removeStore(staging)
		}
	}()
	if err := removeStore(staging); err != nil {
		return fmt.Errorf("remove an unfinished init's store: %w", err)
	}
	res, err := stage(ctx, o, mode, staging, ss)
	if err != nil {
		return err
	}
	if err := o.runStep(stepStaged); err != nil {
		return err
	}
	if publish != nil {
		if err := publish(res); err != nil {
			return err
		}
	}
	if err := o.runStep(stepPublished); err != nil {
		return err
	}
	void := ""
	if publish != nil {
		void = "what was printed above belongs to no installation; run init again: "
	}
	if err := ss.commit(); err != nil {
		return fmt.Errorf("%s%w", void, err)
	}
	if err := o.runStep(stepSealCommitted); err != nil {
		ss.undo()
		return err
	}
	// A hard link, not a rename: it refuses to replace a store that
	// appeared meanwhile (another process not honouring the lock).
	if err := os.Link(staging, dbPath); err != nil {
		ss.undo()
		return fmt.Errorf("%scommit the store: %w", void, err)
	}
	committed = true
	if err := o.runStep(stepStoreLinked); err != nil {
		return err
	}
	os.Remove(staging)
	if err := durable.SyncDir(o.DataDir); err != nil {
		return fmt.Errorf("sync data dir: %w", err)
	}
	return nil
}

func (o *InitOptions) runStep(name string) error {
	if o.step == nil {
		return nil
	}
	return o.step(name)
}

// stage builds the store of the new installation at path and closes it.
func stage(ctx context.Context, o *InitOptions, mode, path string, ss *stagedSeal) (*InitResult, error) {
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("create store: %w", err)
	}
	st, err := sqlite.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	res, err := fillStore(ctx, o, st, ss, mode == ModeProduction) // database.go
	if err != nil {
		return nil, err
	}
	// mode last, though nothing reads a staged store: a store without it
	// is an unfinished installation.
	if err := st.PutSetting(ctx, settingMode, []byte(mode)); err != nil {
		return nil, fmt.Errorf("store setting %s: %w", settingMode, err)
	}
	err = st.Close()
	st = nil
	if err != nil {
		return nil, fmt.Errorf("close store: %w", err)
	}
	// Closing the last connection checkpoints the WAL into the file and
	// removes it; a WAL left with frames would not follow the file to its
	// final name.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("the new store kept a write-ahead log of %d bytes after closing", fi.Size())
	}
	for _, side := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return res, nil
}

// stagedSealedRoot returns the sealed root key of the store an unfinished
// init left at path, or nil.
func stagedSealedRoot(ctx context.Context, path string) []byte {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	st, err := sqlite.Open(path)
	if err != nil {
		return nil
	}
	defer st.Close()
	sealed, err := st.GetSetting(ctx, settingSealedRoot)
	if err != nil {
		return nil
	}
	return sealed
}

// removeStore removes a store file and SQLite's files beside it.
func removeStore(path string) error {
	var errs []error
	for _, side := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(path + side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
