// Package seal is Trent's root of trust. It owns the root key — 256 bits that
// wrap every secret Trent stores (backing keys, access-key secrets, signing
// keys) — and the Providers that seal the root key itself for storage: a
// KeyFile, Shamir shares (shares.go), a PKCS #11 HSM (package pkcs11).
//
// Use it like this: at init, GenerateRootKey, Provider.Seal, store the sealed
// blob in the store's settings, zero the raw key. At start, Provider.Unseal
// the stored blob, NewRootKey, zero the raw key, then Wrap secrets before they
// reach storage and Unwrap them after, binding each to where it belongs (key
// ARN ‖ version) through the aad argument. A root-key rotation adds a
// generation to the RootKey (rotation.go) and rewraps; reading a value
// needs only a RootKey holding the generation it names. Call HardenProcess
// first thing in main, before any secret is in memory.
//
// This package never writes a root key, or anything it unwraps, anywhere in
// plaintext — not to disk, logs or errors — except the key-encryption key in
// the key file the operator chose with CreateKeyFile. Every format it writes
// starts with a version byte, and a version it does not know is an error,
// never a guess.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
)

// RootKeySize is the size in bytes of the root key.
const RootKeySize = 32

var (
	// ErrUnwrap reports that a wrapped value could not be unwrapped: it was
	// wrapped under another root key or bound to other aad, was modified or
	// truncated, or has an unknown format version.
	ErrUnwrap = errors.New("seal: cannot unwrap")
	// ErrUnknownFormat reports a stored value whose format version this build
	// does not know (written by a newer Trent, or not Trent's at all). Unwrap
	// and Unseal errors that wrap it also wrap ErrUnwrap or ErrUnseal;
	// OpenKeyFile returns it for a key file of another version.
	ErrUnknownFormat = errors.New("unknown format version")
	// ErrDestroyed reports use of a RootKey after Destroy.
	ErrDestroyed = errors.New("seal: root key destroyed")
	// ErrMemoryNotLocked is what HardenProcess's error matches when the
	// process memory could not be locked (it may then be swapped out).
	ErrMemoryNotLocked = errors.New("memory not locked")
)

// RootKey is the unsealed root key, held only in memory as AES-256-GCM
// AEADs built once. It is safe for concurrent use; Wrap and Unwrap take no
// locks.
//
// A RootKey is a small keyring of generations (rotation.go): Wrap uses the
// current generation and marks its output with it, Unwrap opens any
// generation the ring holds. An installation's first root key is
// generation 0; `trent rotate-root` adds the next one, rewraps every
// stored secret and retires the old one.
type RootKey struct {
	ring atomic.Pointer[keyring]
}

// NewRootKey returns a RootKey for raw, which must be RootKeySize bytes,
// as generation 0. raw is not retained (crypto/aes copies it into its key
// schedule): the caller should zero it once NewRootKey returns.
func NewRootKey(raw []byte) (*RootKey, error) {
	return NewRootKeyGeneration(raw, 0)
}

// GenerateRootKey returns a new root key: RootKeySize bytes from crypto/rand.
// The caller seals it with a Provider and zeroes it.
func GenerateRootKey() ([]byte, error) {
	raw := make([]byte, RootKeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("seal: generating root key: %w", err)
	}
	return raw, nil
}

// newAEAD returns AES-256-GCM under key with random 96-bit nonces, the form
// Go's FIPS 140-3 mode approves.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}

// The wrapped format, version 1:
//
//	0x01 ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
//
// The AEAD's additional data is
//
//	len(label) ‖ label ‖ 0x01 ‖ len(aad) ‖ aad     (lengths uint32 big-endian)
//
// with label "trent/wrap/v1", so a wrapped value cannot be confused with any
// other use of the root key, nor moved to another ARN or version.
const (
	wrapFormat1 = 0x01
	wrapLabel   = "trent/wrap/v1"
	gcmOverhead = 12 + 16 // nonce and tag, as NewGCMWithRandomNonce lays them out
	maxAADLen   = math.MaxUint32

	wrapOverhead1 = 1 + gcmOverhead

	// WrapOverhead is the most bytes Wrap adds to its plaintext (format
	// 2, with its generation).
	WrapOverhead = wrapOverhead2
)

func wrapAD(aad []byte) ([]byte, error) {
	if uint64(len(aad)) > maxAADLen {
		return nil, errors.New("seal: aad too long")
	}
	ad := make([]byte, 0, 4+len(wrapLabel)+1+4+len(aad))
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(wrapLabel)))
	ad = append(ad, wrapLabel...)
	ad = append(ad, wrapFormat1)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(aad)))
	return append(ad, aad...), nil
}

// AAD encodes the parts of a binding — for a backing key, its key ARN and
// version id — as one aad for Wrap and Unwrap: each part is length-prefixed
// (uint32 big-endian), so ("ab", "c") and ("a", "bc") bind differently.
// Callers that build aad themselves must make it unambiguous likewise.
func AAD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		if uint64(len(p)) > maxAADLen {
			panic("seal: aad part too long")
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// Wrap encrypts plaintext under the root key's current generation, bound
// to aad (for a backing key: its key ARN and version). Unwrap succeeds only
// with the same aad. aad is authenticated, not encrypted, and is not stored
// in the result: the caller must be able to rebuild it. The result is at
// most len(plaintext) + WrapOverhead bytes: generation 0 writes format 1,
// later generations format 2 (rotation.go).
func (k *RootKey) Wrap(plaintext, aad []byte) ([]byte, error) {
	r := k.ring.Load()
	if r == nil {
		return nil, ErrDestroyed
	}
	if r.current == 0 {
		ad, err := wrapAD(aad)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 1, len(plaintext)+wrapOverhead1)
		out[0] = wrapFormat1
		return r.aead(0).Seal(out, nil, plaintext, ad), nil
	}
	return r.wrap2(plaintext, aad)
}

// Unwrap reverses Wrap, with whichever generation the value names. Any
// failure — unknown format version, a generation the key does not hold,
// too short, wrong root key, other aad, any modification — yields an error
// wrapping ErrUnwrap and no plaintext. The plaintext is secret: the caller
// owns it and should zero it when done.
func (k *RootKey) Unwrap(wrapped, aad []byte) ([]byte, error) {
	r := k.ring.Load()
	if r == nil {
		return nil, ErrDestroyed
	}
	if len(wrapped) == 0 {
		return nil, fmt.Errorf("%w: empty value", ErrUnwrap)
	}
	switch wrapped[0] {
	case wrapFormat1:
	case wrapFormat2:
		return r.unwrap2(wrapped, aad)
	default:
		return nil, fmt.Errorf("%w: %w 0x%02x", ErrUnwrap, ErrUnknownFormat, wrapped[0])
	}
	if len(wrapped) < wrapOverhead1 {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrUnwrap, len(wrapped))
	}
	aead := r.aead(0)
	if aead == nil {
		return nil, fmt.Errorf("%w: %w 0 (the value predates a root-key rotation it missed)", ErrUnwrap, ErrGeneration)
	}
	ad, err := wrapAD(aad)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(make([]byte, 0, len(wrapped)-wrapOverhead1), nil, wrapped[1:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (another root key, another binding, or a modified value)", ErrUnwrap)
	}
	return plaintext, nil
}

// Destroy makes k unusable: later Wrap and Unwrap calls return ErrDestroyed.
// It drops the only reference to the AEAD; the AES key schedule inside it
// belongs to crypto/aes, which offers no way to erase it, so it stays in
// (locked, never dumped — see HardenProcess) memory until the garbage
// collector reuses it. Calls already in progress finish normally. Destroy is
// idempotent and safe to call concurrently with Wrap and Unwrap.
func (k *RootKey) Destroy() {
	k.ring.Store(nil)
}
