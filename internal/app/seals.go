package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/trent-kms/trent/internal/durable"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/seal/pkcs11"
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
	// SealPKCS11: an AES-256 key inside a PKCS #11 token (an HSM), which
	// never leaves it. Unseals itself at start by asking the token.
	SealPKCS11 = pkcs11.ProviderName
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
	SealPKCS11:  {check: checkPKCS11Seal, create: createPKCS11Seal, start: startPKCS11Seal},
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
	Provider(sealed []byte) (*seal.Shamir, error)
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
	if err := noPKCS11Options(o); err != nil {
		return err
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
	if cfg.PKCS11PINFile != "" {
		return unsealMethod{}, fmt.Errorf("--pkcs11-pin-file does not apply: %s is sealed by Shamir shares (unseal it with `trent unseal`)", cfg.DataDir)
	}
	c, err := shamirConfig(ctx, st)
	if err != nil {
		return unsealMethod{}, err
	}
	return unsealMethod{shares: seal.NewShareUnsealer(c)}, nil
}

// shamirConfig reads the shares and threshold of a shamir installation.
func shamirConfig(ctx context.Context, st store.Settings) (*seal.ShamirConfig, error) {
	b, err := st.GetSetting(ctx, settingShamir)
	if err != nil {
		return nil, fmt.Errorf("read shamir settings: %w", err)
	}
	c, err := seal.ParseShamirConfig(b)
	if err != nil {
		return nil, fmt.Errorf("read shamir settings: %w", err)
	}
	return c, nil
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
	if err := noPKCS11Options(o); err != nil {
		return err
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
			return durable.SyncDir(filepath.Dir(path))
		},
		undo: func() {
			if committed {
				os.Remove(path)
			}
		},
		cleanup: func() {
			os.Remove(staging)
			_ = durable.SyncDir(filepath.Dir(path))
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
	if cfg.PKCS11PINFile != "" {
		return unsealMethod{}, fmt.Errorf("--pkcs11-pin-file does not apply: %s is sealed by a key file", cfg.DataDir)
	}
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

// settingPKCS11 holds the pkcs11.Settings of a pkcs11 installation: the
// module, token and key labels and installation id, never the PIN.
const settingPKCS11 = "seal.pkcs11"

// noPKCS11Options refuses the pkcs11 seal's options for another seal.
func noPKCS11Options(o *InitOptions) error {
	if o.PKCS11Module != "" || o.PKCS11TokenLabel != "" || o.PKCS11KeyLabel != "" || o.PKCS11PIN != "" {
		return fmt.Errorf("the --pkcs11-* options apply to --seal pkcs11 only, not --seal %s", o.Seal)
	}
	return nil
}

func checkPKCS11Seal(o *InitOptions) error {
	switch {
	case o.SealKeyFile != "":
		return errors.New("--seal-key-file applies to --seal keyfile only: a pkcs11 installation's root key is sealed by a key in the token")
	case o.KeyShares != 0 || o.KeyThreshold != 0:
		return errors.New("--key-shares and --key-threshold apply to --seal shamir only")
	case o.dev:
		return errors.New("a dev installation is sealed by a key file in its data dir, not pkcs11")
	case o.PKCS11PIN == "":
		return fmt.Errorf("pkcs11: no PIN given: pass a PIN file (--pkcs11-pin-file) or set %s", pkcs11.PINEnv)
	}
	_, err := pkcs11.NewSettings(o.PKCS11Module, o.PKCS11TokenLabel, o.PKCS11KeyLabel)
	return err
}

// createPKCS11Seal makes the token key if the token lacks it and opens the
// provider that seals the new root key. Nothing is staged outside the
// store: a token key that an unfinished init created stays in the token,
// and the rerun finds and uses it.
func createPKCS11Seal(o *InitOptions, _ []byte) (*stagedSeal, error) {
	s, err := pkcs11.NewSettings(o.PKCS11Module, o.PKCS11TokenLabel, o.PKCS11KeyLabel)
	if err != nil {
		return nil, err
	}
	b, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	if _, err := pkcs11.EnsureKey(s, o.PKCS11PIN); err != nil {
		return nil, err
	}
	p, err := pkcs11.Open(s, o.PKCS11PIN)
	if err != nil {
		return nil, err
	}
	return &stagedSeal{
		provider: p, settings: map[string][]byte{settingPKCS11: b},
		commit: func() error { return nil }, undo: func() {},
		// Log out and return the sessions: serve logs in again.
		cleanup: func() { p.Close() },
	}, nil
}

// startPKCS11Seal opens the token key the data dir names, with the PIN
// from the operator (never from the data dir).
func startPKCS11Seal(ctx context.Context, cfg *Config, _ string, st store.Settings) (unsealMethod, error) {
	if cfg.SealKeyFile != "" {
		return unsealMethod{}, fmt.Errorf("--seal-key-file does not apply: %s is sealed by a key in a PKCS#11 token", cfg.DataDir)
	}
	b, err := st.GetSetting(ctx, settingPKCS11)
	if err != nil {
		return unsealMethod{}, fmt.Errorf("read pkcs11 settings: %w", err)
	}
	s, err := pkcs11.ParseSettings(b)
	if err != nil {
		return unsealMethod{}, fmt.Errorf("read pkcs11 settings: %w", err)
	}
	lookup := cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	pin, err := pkcs11.ResolvePIN(cfg.PKCS11PINFile, lookup)
	if err != nil {
		return unsealMethod{}, err
	}
	p, err := pkcs11.Open(s, pin)
	if err != nil {
		return unsealMethod{}, err
	}
	return unsealMethod{auto: p}, nil
}
