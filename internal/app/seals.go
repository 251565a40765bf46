package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/seal/shamir"
	"github.com/trent-kms/trent/internal/store"
)

// Seal types: how the root key of an installation is sealed. Init records
// the type in the store (settingSealer) and every start reads it back, so
// serve never needs to be told.
const (
	// SealKeyFile: a key-encryption key in a file (outside the data dir in
	// production, inside it in dev mode). Unseals itself at start.
	SealKeyFile = "keyfile"
	// SealShamir: a key-encryption key split into shares held by people.
	// Starts sealed; operators unseal it with threshold-many shares.
	SealShamir = seal.SealShamir
)

// sealType is one way of sealing the root key. Adding one (pkcs11) is an
// entry in sealTypes, its options in InitOptions and Config, and its
// flags in cmd/trent; init, start, seal and unseal need no other change.
type sealType struct {
	// check refuses options that cannot work, before init creates
	// anything; init calls it again once the data dir exists.
	check func(o *InitOptions) error
	// create makes the seal of a new installation, in staging (init.go).
	// stagedRoot is the sealed root key of an earlier init that stopped
	// in this data dir before finishing, or nil: a seal that commits
	// files of its own uses it to recognise ones that init left behind.
	create func(o *InitOptions, stagedRoot []byte) (*stagedSeal, error)
	// start prepares to unseal an installation at start: either a
	// Provider that opens the root key at once, without anyone's help
	// (key file, HSM), or a share collector for operators (shamir).
	start func(ctx context.Context, cfg *Config, mode string, st store.Settings) (unsealMethod, error)
}

var sealTypes = map[string]sealType{
	SealKeyFile: {check: checkKeyFileSeal, create: createKeyFileSeal, start: startKeyFileSeal},
	SealShamir:  {check: checkShamirSeal, create: createShamirSeal, start: startShamirSeal},
}

// unsealMethod is how an installation is unsealed: exactly one is set.
type unsealMethod struct {
	auto   seal.Provider
	shares shareUnsealer
}

// shareUnsealer collects operators' shares (seal.ShareUnsealer).
type shareUnsealer interface {
	Add(share string) error
	Progress() (got, need int)
	Unseal(sealed []byte) ([]byte, error)
	Reset()
}

var _ shareUnsealer = (*seal.ShareUnsealer)(nil)

// stagedSeal is a seal made for an installation init has not committed
// yet.
type stagedSeal struct {
	provider seal.Provider
	// settings are stored beside the sealed root key (nothing secret).
	settings map[string][]byte
	// shares are handed out once, with the root access key.
	shares []string
	// commit puts the seal's own files in place, just before the store is
	// committed; undo takes them back if that commit then fails. cleanup
	// runs last, whatever happened: it removes staging files and zeroes
	// what the seal holds.
	commit  func() error
	undo    func()
	cleanup func()
}

// settingShamir holds the seal.ShamirConfig of a shamir installation.
const settingShamir = "seal.shamir"

func checkShamirSeal(o *InitOptions) error {
	if o.SealKeyFile != "" {
		return errors.New("--seal-key-file applies to --seal keyfile only")
	}
	if err := shamir.Check(o.KeyShares, o.KeyThreshold); err != nil {
		return fmt.Errorf("--key-shares %d --key-threshold %d: %w", o.KeyShares, o.KeyThreshold, err)
	}
	return nil
}

func createShamirSeal(o *InitOptions, _ []byte) (*stagedSeal, error) {
	p, c, shares, err := seal.NewShamir(o.KeyShares, o.KeyThreshold)
	if err != nil {
		return nil, err
	}
	b, err := c.MarshalBinary()
	if err != nil {
		p.Destroy()
		return nil, err
	}
	return &stagedSeal{
		provider: p, settings: map[string][]byte{settingShamir: b}, shares: shares,
		commit: func() error { return nil }, undo: func() {}, cleanup: p.Destroy,
	}, nil
}

func startShamirSeal(ctx context.Context, cfg *Config, _ string, st store.Settings) (unsealMethod, error) {
	if cfg.SealKeyFile != "" {
		return unsealMethod{}, fmt.Errorf("--seal-key-file does not apply: %s is sealed by Shamir shares (unseal it with `trent unseal`)", cfg.DataDir)
	}
	b, err := st.GetSetting(ctx, settingShamir)
	if err != nil {
		return unsealMethod{}, fmt.Errorf("read shamir settings: %w", err)
	}
	c, err := seal.ParseShamirConfig(b)
	if err != nil {
		return unsealMethod{}, fmt.Errorf("read shamir settings: %w", err)
	}
	return unsealMethod{shares: seal.NewShareUnsealer(c)}, nil
}

// keyFilePath is where the key file of the installation o describes
// lives: outside the data dir in production, inside it in dev mode.
func keyFilePath(o *InitOptions) string {
	if o.dev {
		return filepath.Join(o.DataDir, devSealKeyFile)
	}
	return o.SealKeyFile
}

func checkKeyFileSeal(o *InitOptions) error {
	if o.KeyShares != 0 || o.KeyThreshold != 0 {
		return errors.New("--key-shares and --key-threshold apply to --seal shamir only")
	}
	if o.dev {
		return nil
	}
	if o.SealKeyFile == "" {
		return errors.New("a production installation sealed by a key file needs --seal-key-file outside its data dir; none was given")
	}
	return checkKeyFileOutside(o.DataDir, o.SealKeyFile)
}

// createKeyFileSeal makes the key file under a staging name beside its
// final path (path + ".init"); commit links it into place, refusing to
// replace a file there.
//
// A key file already at the final path is refused (it may unseal another
// installation), except one that an earlier init of this data dir left
// when it stopped between putting its key file in place and committing
// its store: that file opens the sealed root key of the store still in
// staging, and since its key was random and new, nothing else is sealed
// by it. It is removed, so that the rerun can proceed.
func createKeyFileSeal(o *InitOptions, stagedRoot []byte) (*stagedSeal, error) {
	path := keyFilePath(o)
	staging := path + ".init"
	if _, err := os.Lstat(path); err == nil {
		if !unsealsWith(path, stagedRoot) {
			return nil, fmt.Errorf("seal key file %s already exists; refusing to overwrite it: %w", path, fs.ErrExist)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the key file an unfinished init left: %w", err)
		}
	}
	if err := os.Remove(staging); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove an unfinished init's key file: %w", err)
	}
	kf, err := seal.CreateKeyFile(staging)
	if err != nil {
		return nil, fmt.Errorf("create seal key file: %w", err)
	}
	committed := false
	return &stagedSeal{
		provider: kf,
		commit: func() error {
			if err := os.Link(staging, path); err != nil {
				return fmt.Errorf("put the seal key file in place: %w", err)
			}
			committed = true
			return syncDir(filepath.Dir(path))
		},
		undo: func() {
			if committed {
				os.Remove(path)
			}
		},
		cleanup: func() {
			os.Remove(staging)
			_ = syncDir(filepath.Dir(path))
		},
	}, nil
}

// unsealsWith reports whether the key file at path opens sealed.
func unsealsWith(path string, sealed []byte) bool {
	if sealed == nil {
		return false
	}
	kf, err := seal.OpenKeyFile(path)
	if err != nil {
		return false
	}
	raw, err := kf.Unseal(sealed)
	clear(raw)
	return err == nil
}

func startKeyFileSeal(_ context.Context, cfg *Config, mode string, _ store.Settings) (unsealMethod, error) {
	// Dev mode keeps its key file in its data dir, by design: a dev
	// installation is for trying Trent out, not for secrets.
	keyFile := filepath.Join(cfg.DataDir, devSealKeyFile)
	if mode == ModeProduction {
		keyFile = cfg.SealKeyFile
		if keyFile == "" {
			return unsealMethod{}, errors.New("a production installation sealed by a key file is unsealed with --seal-key-file FILE (outside its data dir); none was given")
		}
		if err := checkKeyFileOutside(cfg.DataDir, keyFile); err != nil {
			return unsealMethod{}, err
		}
	}
	// A staging name init left, if it stopped after committing.
	if a, err := os.Stat(keyFile); err == nil {
		if b, err := os.Stat(keyFile + ".init"); err == nil && os.SameFile(a, b) {
			os.Remove(keyFile + ".init")
		}
	}
	kf, err := seal.OpenKeyFile(keyFile)
	if err != nil {
		return unsealMethod{}, fmt.Errorf("open seal key file: %w", err)
	}
	return unsealMethod{auto: kf}, nil
}
