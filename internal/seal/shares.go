package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/trent-kms/trent/internal/seal/shamir"
)

// The shamir seal: the root key is sealed under a random 256-bit
// key-encryption key (KEK) that exists only as shares held by people. At
// init, NewShamir makes the KEK, splits it and returns the shares, which
// are printed once and never stored. At start the root key stays sealed
// until operators hand threshold-many shares to a ShareUnsealer one by
// one; it rebuilds the KEK, opens the root key and forgets both.
//
// The sealed root is, format 1 (61 bytes):
//
//	0x01 ‖ nonce (12) ‖ AES-256-GCM(KEK, root key, ad = "trent/root/shamir/v1") ‖ tag (16)
//
// so a KEK rebuilt from wrong shares fails GCM's authentication and is
// never taken for the root key's. Beside it the installation stores a
// ShamirConfig — nothing secret: the split's id, its threshold and
// number of shares, and a commitment to each share,
// SHA-256("trent/shamir-commit/v1" ‖ the share's binary form). With the
// commitments each share is checked the moment it is submitted, so a
// share that is well-formed but not one of this installation's — altered
// on purpose, from another split of the same installation — is refused by
// index before it can spoil a combination. A commitment reveals nothing
// a guess could use: each share holds 256 bits no one outside knows.

// SealShamir is the name of the shamir seal (Provider.Name, the stored
// seal type).
const SealShamir = "shamir"

const (
	shamirRootAD     = "trent/root/shamir/v1"
	shamirCommitTag  = "trent/shamir-commit/v1"
	shamirConfig1    = 0x01
	shamirConfigHead = 1 + 8 + 1 + 1
	kekSize          = 32
)

// Errors a ShareUnsealer returns for a share it refuses. Each leaves the
// shares already accepted as they were.
var (
	// ErrShareCorrupt: not a share, or its checksum fails (mistyped,
	// damaged, truncated). Errors wrapping it also wrap shamir's.
	ErrShareCorrupt = errors.New("corrupt share")
	// ErrShareForeign: a well-formed share that is not one this
	// installation issued.
	ErrShareForeign = errors.New("not one of this installation's shares")
	// ErrShareDuplicate: a share already accepted.
	ErrShareDuplicate = errors.New("duplicate share")
)

// shareError is a refused share: its text is written for the operator
// (shamir's own text for a corrupt share, without repeating it), and it
// matches both its kind and its cause.
type shareError struct {
	kind, cause error
	msg         string
}

func (e *shareError) Error() string { return e.msg }
func (e *shareError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func refuse(kind error, format string, args ...any) error {
	return &shareError{kind: kind, msg: kind.Error() + ": " + fmt.Sprintf(format, args...)}
}

// ShamirConfig is what a shamir installation stores about its shares: the
// split's id, the threshold, the number of shares and a commitment to
// each. None of it is secret.
type ShamirConfig struct {
	Set         shamir.SetID
	Threshold   int
	Shares      int
	commitments [][sha256.Size]byte
}

// MarshalBinary encodes c, format 1:
//
//	0x01 ‖ set (8) ‖ threshold (1) ‖ shares (1) ‖ shares × commitment (32)
func (c *ShamirConfig) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, shamirConfigHead+len(c.commitments)*sha256.Size)
	b = append(b, shamirConfig1)
	b = append(b, c.Set[:]...)
	b = append(b, byte(c.Threshold), byte(c.Shares))
	for _, cm := range c.commitments {
		b = append(b, cm[:]...)
	}
	return b, nil
}

// ParseShamirConfig decodes what MarshalBinary wrote, strictly: an unknown
// version wraps ErrUnknownFormat; anything malformed is an error.
func ParseShamirConfig(b []byte) (*ShamirConfig, error) {
	if len(b) == 0 {
		return nil, errors.New("seal: shamir settings are empty")
	}
	if b[0] != shamirConfig1 {
		return nil, fmt.Errorf("seal: shamir settings: %w 0x%02x", ErrUnknownFormat, b[0])
	}
	if len(b) < shamirConfigHead {
		return nil, errors.New("seal: shamir settings are truncated")
	}
	c := &ShamirConfig{Threshold: int(b[9]), Shares: int(b[10])}
	copy(c.Set[:], b[1:9])
	if c.Threshold < 1 || c.Threshold > c.Shares || len(b) != shamirConfigHead+c.Shares*sha256.Size {
		return nil, fmt.Errorf("seal: shamir settings are malformed (threshold %d, %d shares, %d bytes)", c.Threshold, c.Shares, len(b))
	}
	for i := range c.Shares {
		var cm [sha256.Size]byte
		copy(cm[:], b[shamirConfigHead+i*sha256.Size:])
		c.commitments = append(c.commitments, cm)
	}
	return c, nil
}

func commit(s *shamir.Share) [sha256.Size]byte {
	enc := []byte(s.Encode())
	defer clear(enc)
	h := sha256.New()
	h.Write([]byte(shamirCommitTag))
	h.Write(enc)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// Shamir is the Provider of a shamir installation while its KEK is in
// memory: at init (NewShamir) and for the moment of an unseal. Destroy
// zeroes the KEK.
type Shamir struct {
	kek [kekSize]byte
}

var _ Provider = (*Shamir)(nil)

// NewShamir makes a random KEK and splits it into n shares, t of which
// rebuild it (shamir.Split's rules: 1 ≤ t ≤ n ≤ 255, t = 1 only with
// n = 1). It returns a Provider that seals the root key under the KEK,
// the config to store, and the shares in text form, to be shown once and
// never stored. The caller destroys the Provider once it has sealed.
func NewShamir(n, t int) (*Shamir, *ShamirConfig, []string, error) {
	p := new(Shamir)
	if _, err := rand.Read(p.kek[:]); err != nil {
		return nil, nil, nil, fmt.Errorf("seal: generating key-encryption key: %w", err)
	}
	shares, err := shamir.Split(p.kek[:], n, t)
	if err != nil {
		p.Destroy()
		return nil, nil, nil, fmt.Errorf("seal: %w", err)
	}
	cfg := &ShamirConfig{Set: shares[0].Set, Threshold: t, Shares: n}
	texts := make([]string, n)
	for i, s := range shares {
		cfg.commitments = append(cfg.commitments, commit(s))
		texts[i] = s.Encode()
		s.Destroy()
	}
	return p, cfg, texts, nil
}

// Name returns "shamir".
func (*Shamir) Name() string { return SealShamir }

// Seal encrypts root under the KEK.
func (p *Shamir) Seal(root []byte) ([]byte, error) {
	return sealRoot(root, shamirRootAD, p.aead) // keyfile.go
}

// Unseal decrypts a root key sealed by Seal under the same KEK; anything
// else wraps ErrUnseal.
func (p *Shamir) Unseal(sealed []byte) ([]byte, error) {
	return openRoot(sealed, shamirRootAD, p.aead,
		"the shares do not rebuild the key this root key was sealed with (or the sealed root key was modified)")
}

func (p *Shamir) aead() (cipher.AEAD, error) { return newAEAD(p.kek[:]) }

// Destroy zeroes the KEK; Seal and Unseal fail afterwards.
func (p *Shamir) Destroy() { clear(p.kek[:]) }

// ShareUnsealer collects the shares operators submit until it has the
// threshold, then opens the sealed root key. It is not safe for
// concurrent use: the caller serializes Add, Unseal and Reset.
type ShareUnsealer struct {
	cfg    *ShamirConfig
	shares []*shamir.Share
}

// NewShareUnsealer returns a ShareUnsealer for an installation's stored
// ShamirConfig.
func NewShareUnsealer(cfg *ShamirConfig) *ShareUnsealer {
	return &ShareUnsealer{cfg: cfg}
}

// Progress returns how many shares have been accepted and how many are
// needed.
func (u *ShareUnsealer) Progress() (got, need int) { return len(u.shares), u.cfg.Threshold }

// Add checks one share and keeps it. A share that is corrupt
// (ErrShareCorrupt), not one of this installation's (ErrShareForeign) or
// already accepted (ErrShareDuplicate) is refused, and the shares kept
// stay as they were. Errors name a share by its index only.
func (u *ShareUnsealer) Add(text string) error {
	s, err := shamir.Parse(text)
	switch {
	case errors.Is(err, shamir.ErrUnknownFormat):
		return &shareError{kind: ErrShareCorrupt, cause: err, msg: err.Error() + " (made by a newer Trent?)"}
	case err != nil:
		return &shareError{kind: ErrShareCorrupt, cause: err, msg: err.Error()}
	}
	ok := false
	defer func() {
		if !ok {
			s.Destroy()
		}
	}()
	if s.Set != u.cfg.Set || s.Threshold != u.cfg.Threshold {
		return refuse(ErrShareForeign, "it belongs to another set of shares (another installation's, or one replaced since)")
	}
	if int(s.X) > u.cfg.Shares {
		return refuse(ErrShareForeign, "this installation issued shares 1 to %d, not %d", u.cfg.Shares, s.X)
	}
	want := u.cfg.commitments[s.X-1]
	got := commit(s)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return refuse(ErrShareForeign, "it claims to be share %d but is not the share %d issued (altered?)", s.X, s.X)
	}
	for _, prev := range u.shares {
		if prev.X == s.X {
			return refuse(ErrShareDuplicate, "share %d was already submitted", s.X)
		}
	}
	u.shares = append(u.shares, s)
	ok = true
	return nil
}

// Unseal rebuilds the KEK from the threshold's shares and opens sealed
// with it. Whatever the outcome it forgets the shares (so a failed
// attempt starts again from none) and the KEK; the caller owns the root
// key returned and zeroes it after NewRootKey.
func (u *ShareUnsealer) Unseal(sealed []byte) ([]byte, error) {
	p, err := u.Provider(sealed)
	if err != nil {
		return nil, err
	}
	defer p.Destroy()
	return p.Unseal(sealed)
}

// Provider rebuilds the KEK from the threshold's shares and returns the
// Provider holding it, once it has checked that the KEK opens sealed (the
// installation's sealed root key): rekey, seal migration and root-key
// rotation seal with it. Whatever the outcome it forgets the shares; the
// caller destroys the Provider.
func (u *ShareUnsealer) Provider(sealed []byte) (*Shamir, error) {
	defer u.Reset()
	if len(u.shares) < u.cfg.Threshold {
		return nil, fmt.Errorf("%w: %d of %d shares", ErrUnseal, len(u.shares), u.cfg.Threshold)
	}
	kek, err := shamir.Combine(u.shares)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnseal, err)
	}
	defer clear(kek)
	if len(kek) != kekSize {
		return nil, fmt.Errorf("%w: the shares rebuild %d bytes, not a %d-byte key", ErrUnseal, len(kek), kekSize)
	}
	p := new(Shamir)
	copy(p.kek[:], kek)
	root, err := p.Unseal(sealed)
	clear(root)
	if err != nil {
		p.Destroy()
		return nil, err
	}
	return p, nil
}

// Reset forgets the shares submitted so far, zeroing them.
func (u *ShareUnsealer) Reset() {
	for _, s := range u.shares {
		s.Destroy()
	}
	u.shares = nil
}
