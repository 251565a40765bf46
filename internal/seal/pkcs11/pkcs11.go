// Package pkcs11 is the seal.Provider that keeps Trent's root key wrapped by
// an AES-256 key inside a PKCS #11 token (an HSM; SoftHSM2 in tests). The
// token key is generated inside the token as sensitive and non-extractable:
// it never leaves the token, and Trent asks the token to encrypt the root key
// at init (Seal) and to decrypt it at start (Unseal).
//
// Use it like this. At init: NewSettings from the operator's flags, store
// Settings.Marshal's bytes in the data dir, ResolvePIN, EnsureKey (creates
// the token key if absent), Open, Seal the new root key, Close. At start:
// ParseSettings from the data dir, ResolvePIN, Open, Unseal, Close. The PIN is
// never stored by this package and never appears in its errors.
//
// It is a subpackage of internal/seal, not files in it, because it needs cgo
// (the token's library is C, loaded with dlopen) and internal/seal is
// imported by every package that wraps secrets: keeping cgo here leaves
// those pure Go, and a build without cgo still compiles (Open then reports
// ErrNoCgo). It also gives the SoftHSM2 tests their own test binary, which
// matters because a PKCS #11 library reads its configuration
// (SOFTHSM2_CONF) when the process first initializes it.
//
// This package never returns, logs or stores the token key (it cannot: the
// token refuses to export it), the PIN, or the root key except as Unseal's
// result to its caller.
package pkcs11

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"unicode"
	"unicode/utf8"

	"github.com/trent-kms/trent/internal/jsonstrict"
	"github.com/trent-kms/trent/internal/seal"
)

// ProviderName is what Provider.Name returns: the seal type recorded in a
// data dir sealed by this package.
const ProviderName = "pkcs11"

// Errors a caller can tell apart with errors.Is. Each error this package
// returns is one line that starts with "pkcs11: " and names the module,
// token or key concerned.
var (
	// ErrModule reports a PKCS #11 library that is missing, is not a shared
	// library, or does not export C_GetFunctionList.
	ErrModule = errors.New("cannot load PKCS#11 module")
	// ErrNoToken reports that no initialized token has the configured label.
	ErrNoToken = errors.New("no token labelled")
	// ErrWrongPIN reports a PIN the token refused (CKR_PIN_INCORRECT or
	// CKR_PIN_LEN_RANGE), or one that differs from the PIN this process
	// already logged in to the token with.
	ErrWrongPIN = errors.New("wrong PIN")
	// ErrNoKey reports that the token holds no secret key with the
	// configured label.
	ErrNoKey = errors.New("no secret key labelled")
	// ErrUnsuitableKey reports a key with the configured label that Trent
	// refuses to seal with: not AES-256, extractable, not sensitive, not a
	// token object, or not allowed to encrypt and decrypt; or several keys
	// with that label.
	ErrUnsuitableKey = errors.New("unsuitable key")
	// ErrClosed reports use of a Provider after Close.
	ErrClosed = errors.New("pkcs11: provider closed")
	// ErrNoCgo reports a Trent built without cgo, which cannot load a
	// PKCS #11 library.
	ErrNoCgo = errors.New("pkcs11: this trent was built without cgo (CGO_ENABLED=0) and cannot load a PKCS#11 module; rebuild it with cgo")
)

// Settings say where the token key is. They are not secret and are stored
// in the data dir (Marshal, ParseSettings); the PIN is not among them.
type Settings struct {
	// Module is the absolute path of the token's PKCS #11 library, e.g.
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the token (CK_TOKEN_INFO.label, at most 32 bytes).
	TokenLabel string
	// KeyLabel selects the AES key on the token (CKA_LABEL).
	KeyLabel string
	// Installation is 32 hex digits (16 random bytes) made by NewSettings.
	// Sealed root keys are bound to it as GCM additional data, so a root key
	// sealed for one installation does not unseal as another's, even when
	// both use the same token key.
	Installation string
}

const (
	settingsVersion  = 1
	maxTokenLabelLen = 32 // the size of CK_TOKEN_INFO.label
	maxKeyLabelLen   = 128
	installationLen  = 16
)

// NewSettings checks the operator's choices and returns Settings for a new
// installation with a fresh Installation id. A relative module path is made
// absolute, so a stored Settings does not depend on the working directory.
func NewSettings(module, tokenLabel, keyLabel string) (Settings, error) {
	if module == "" {
		return Settings{}, errors.New("pkcs11: no module given (the path of the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)")
	}
	abs, err := filepath.Abs(module)
	if err != nil {
		return Settings{}, fmt.Errorf("pkcs11: module path %q: %w", module, err)
	}
	id := make([]byte, installationLen)
	if _, err := rand.Read(id); err != nil {
		return Settings{}, fmt.Errorf("pkcs11: generating installation id: %w", err)
	}
	s := Settings{Module: abs, TokenLabel: tokenLabel, KeyLabel: keyLabel, Installation: hex.EncodeToString(id)}
	if err := s.validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

func (s Settings) validate() error {
	if s.Module == "" || !filepath.IsAbs(s.Module) {
		return fmt.Errorf("pkcs11: module path %q is not absolute", s.Module)
	}
	if err := checkLabel("token", s.TokenLabel, maxTokenLabelLen); err != nil {
		return err
	}
	if err := checkLabel("key", s.KeyLabel, maxKeyLabelLen); err != nil {
		return err
	}
	id, err := hex.DecodeString(s.Installation)
	if err != nil || len(id) != installationLen || hex.EncodeToString(id) != s.Installation {
		return fmt.Errorf("pkcs11: installation id must be %d lowercase hex digits", 2*installationLen)
	}
	return nil
}

// checkLabel refuses labels a token would store differently from how they
// were typed: tokens pad CK_TOKEN_INFO.label with spaces, so a trailing
// space cannot be told from padding, and control characters are surely a
// mistake.
func checkLabel(what, label string, max int) error {
	switch {
	case label == "":
		return fmt.Errorf("pkcs11: no %s label given", what)
	case len(label) > max:
		return fmt.Errorf("pkcs11: %s label %q is %d bytes; at most %d are allowed", what, label, len(label), max)
	case !utf8.ValidString(label):
		return fmt.Errorf("pkcs11: %s label is not valid UTF-8", what)
	case label[0] == ' ' || label[len(label)-1] == ' ':
		return fmt.Errorf("pkcs11: %s label %q starts or ends with a space", what, label)
	}
	for _, r := range label {
		if unicode.IsControl(r) {
			return fmt.Errorf("pkcs11: %s label %q contains a control character", what, label)
		}
	}
	return nil
}

// storedSettings is Settings as stored, version 1. The version is explicit
// so that a later format is refused rather than misread.
type storedSettings struct {
	Version      int    `json:"version"`
	Module       string `json:"module"`
	TokenLabel   string `json:"token_label"`
	KeyLabel     string `json:"key_label"`
	Installation string `json:"installation"`
}

// Marshal returns s as stored in the data dir: a JSON object with a
// "version" member.
func (s Settings) Marshal() ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(storedSettings{settingsVersion, s.Module, s.TokenLabel, s.KeyLabel, s.Installation})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: encoding settings: %w", err)
	}
	return b, nil
}

// ParseSettings reads what Marshal wrote. Unknown members, a version other
// than 1 (an error wrapping seal.ErrUnknownFormat), or values NewSettings
// would not have made are errors.
func ParseSettings(b []byte) (Settings, error) {
	var st storedSettings
	if err := jsonstrict.Decode(b, &st); err != nil {
		return Settings{}, fmt.Errorf("pkcs11: stored settings are malformed: %w", err)
	}
	if st.Version != settingsVersion {
		return Settings{}, fmt.Errorf("pkcs11: stored settings: %w %d", seal.ErrUnknownFormat, st.Version)
	}
	s := Settings{Module: st.Module, TokenLabel: st.TokenLabel, KeyLabel: st.KeyLabel, Installation: st.Installation}
	if err := s.validate(); err != nil {
		return Settings{}, fmt.Errorf("stored settings: %w", err)
	}
	return s, nil
}

// The sealed root key, format 1, is 61 bytes:
//
//	0x01 ‖ IV (12) ‖ AES-256-GCM ciphertext of the root key (32) ‖ tag (16)
//
// computed by the token with CKM_AES_GCM, 128-bit tag, and additional data
// seal.AAD("trent/root/pkcs11/v1", Installation). GCM rather than
// CKM_AES_KEY_WRAP_PAD: the root key must come back into Trent's memory (it
// drives Go's AES), which C_Decrypt gives directly, whereas C_UnwrapKey would
// make it a token object that must then be extractable; and GCM authenticates
// with a 128-bit tag and additional data, where key wrap has a 64-bit check
// and no way to bind the installation.
const (
	sealedFormat1 = 0x01
	sealedAADTag  = "trent/root/pkcs11/v1"
	ivLen         = 12
	tagLen        = 16
	sealedLen     = 1 + ivLen + seal.RootKeySize + tagLen
)

// encodeSealed lays out format 1.
func encodeSealed(iv, ciphertext []byte) []byte {
	out := make([]byte, 0, sealedLen)
	out = append(out, sealedFormat1)
	out = append(out, iv...)
	return append(out, ciphertext...)
}

// parseSealed splits a format 1 sealed root key into its IV and its
// ciphertext with tag. It checks the version first and the length after,
// and never guesses: anything else is an error wrapping seal.ErrUnseal.
func parseSealed(b []byte) (iv, ciphertext []byte, err error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: pkcs11: the sealed root key is empty", seal.ErrUnseal)
	}
	if b[0] != sealedFormat1 {
		return nil, nil, fmt.Errorf("%w: pkcs11: %w 0x%02x of the sealed root key", seal.ErrUnseal, seal.ErrUnknownFormat, b[0])
	}
	if len(b) != sealedLen {
		return nil, nil, fmt.Errorf("%w: pkcs11: the sealed root key is %d bytes, want %d", seal.ErrUnseal, len(b), sealedLen)
	}
	return b[1 : 1+ivLen], b[1+ivLen:], nil
}
